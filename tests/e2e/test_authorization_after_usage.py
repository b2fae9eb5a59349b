"""Under ingestion load, a usage accepted just before an authorization counts
in its decision, on both stores: the wallet pays for what it has spent
whether or not the read model has applied it yet.

A background load keeps the read model busy with other customers' usage.
Each round spends part of acme's wallet, then asks at once for exactly what
is left and for a micro-dollar more: the first must pass, the second never."""

from __future__ import annotations

import threading
from decimal import Decimal

from tests.e2e.server import client, running_server, wait_for
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, expected_charge, just_now

ROUNDS = 25
LOAD_BATCH = 200


def _load(base: str, stop: threading.Event) -> int:
    sent = 0
    with client(base) as api:
        while not stop.is_set():
            now = just_now()
            batch = [event(f"load-{sent + i}", customer="globex", timestamp=now) for i in range(LOAD_BATCH)]
            assert api.post("/v1/events", json={"events": batch}).status_code == 200
            sent += LOAD_BATCH
    return sent


def test_an_authorization_counts_the_usage_accepted_just_before_it(database_url: str) -> None:
    with running_server(database_url) as base, client(base) as api:
        setup_catalog(api)
        globex = {"id": "globex", "name": "Globex", "currency": "USD", "plan": "pro", "billing": "prepaid"}
        assert api.post("/v1/customers", json=globex).status_code == 201
        stop = threading.Event()
        loader = threading.Thread(target=_load, args=(base, stop))
        loader.start()
        try:
            left = Decimal("25.00")
            for round_ in range(ROUNDS):
                body = event(f"spend-{round_}", timestamp=just_now(), input_tokens=40_000, output_tokens=4_000)
                answer = api.post("/v1/events", json={"events": [body]}).json()["results"][0]
                assert answer["status"] == "accepted", answer
                left -= expected_charge(body)[1]
                over = {"id": f"over-{round_}", "customer": "acme", "amount": str(left + Decimal("0.000001"))}
                denied = api.post("/v1/authorizations", json=over)
                assert denied.status_code == 402, (round_, denied.text)
                assert Decimal(denied.json()["available"]) == left
                exact = api.post("/v1/authorizations", json={"id": f"exact-{round_}", "customer": "acme",
                                                             "amount": str(left)})  # fmt: skip
                assert exact.status_code == 201, (round_, exact.text)
                assert api.post(f"/v1/authorizations/exact-{round_}/void").status_code == 200
        finally:
            stop.set()
            loader.join()
        settled = wait_for(lambda: Decimal(api.get("/v1/customers/acme/balance").json()["balance"]) == left, 30)
        assert settled, api.get("/v1/customers/acme/balance").json()
