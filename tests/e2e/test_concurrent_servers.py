"""Two server processes on one PostgreSQL, sent the same ids at the same instant:
each id is recorded exactly once, and the ledger shows it once."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import Counter
from decimal import Decimal

import httpx

from domain.money import format_amount
from tests.e2e.server import client, projected, running_server, tally_command, wait_for
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, expected_charge, just_now

ROUNDS = 5
BATCH = 200


def test_the_same_ids_at_the_same_instant_through_two_processes(postgres_url: str) -> None:
    with running_server(postgres_url) as first, running_server(postgres_url) as second:
        with client(first) as api:
            setup_catalog(api)
        now = just_now()
        batches = [[event(f"r{round_}-{i}", timestamp=now) for i in range(BATCH)] for round_ in range(ROUNDS)]
        answers: dict[str, list[list[dict[str, str]]]] = {first: [], second: []}

        def send(base: str, barrier: threading.Barrier) -> None:
            with client(base) as api:
                for batch in batches:
                    barrier.wait(timeout=30)
                    answers[base].append(api.post("/v1/events", json={"events": batch}).json()["results"])

        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=send, args=(base, barrier)) for base in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        per_id: dict[str, Counter[str]] = {}
        for results in answers[first] + answers[second]:
            for result in results:
                per_id.setdefault(result["id"], Counter())[result["status"]] += 1
        assert len(per_id) == ROUNDS * BATCH
        assert all(counts == Counter({"accepted": 1, "duplicate": 1}) for counts in per_id.values()), per_id

        charged = ROUNDS * BATCH * expected_charge(event("x"))[1]
        expected = format_amount(Decimal("25") - charged)
        for base in (first, second):
            with client(base) as api:
                assert wait_for(lambda: api.get("/v1/customers/acme/balance").json()["balance"] == expected)
                assert projected(api)
                entries = api.get("/v1/ledger/entries", params={"account": "revenue:usage", "limit": 500}).json()
                assert len(entries["entries"]) == 500 and entries["next_cursor"]
        assert httpx.get(f"{first}/healthz").json()["log_position"] >= ROUNDS * BATCH


def test_servers_without_followers_and_one_projector_process(postgres_url: str) -> None:
    """The scale-out shape: HTTP processes only append; one `tally project`
    process applies every page, woken by PostgreSQL's NOTIFY."""
    env = {**os.environ, "TALLY_DATABASE_URL": postgres_url, "TALLY_ADMIN_KEY": "unused"}
    with running_server(postgres_url, follower=False) as first, running_server(postgres_url, follower=False) as second:
        with client(first) as api:
            setup_catalog(api)
            now = just_now()
            api.post("/v1/events", json={"events": [event(f"p{i}", timestamp=now) for i in range(100)]})
            health = api.get("/healthz").json()
            assert health["projection_position"] < health["log_position"], "no process projects yet"
        projector = subprocess.Popen(
            tally_command("project"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            with client(second) as api:
                api.post("/v1/events", json={"events": [event(f"q{i}", timestamp=now) for i in range(100)]})
                expected = format_amount(Decimal("25") - 200 * expected_charge(event("x"))[1])
                assert api.get("/v1/customers/acme/balance").json()["balance"] == expected  # the log's tail counts
                assert projected(api), api.get("/healthz").json()  # and the projector process applies it all
                assert api.get("/v1/customers/acme/balance").json()["balance"] == expected
        finally:
            projector.terminate()
            assert projector.wait(timeout=15) == 0
