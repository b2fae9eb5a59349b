"""Health tells the truth, through a real server on both stores: a part (the
follower, each policy) that keeps failing or has stopped turns /healthz into
a 503 naming it, /metrics counts its failures, the other parts keep working,
and health comes back by itself once the fault is repaired. Every fault is
made from outside, in the database, as an operator's mistake or a broken
disk would make it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg

from projections.schema import VIEW_NAME
from tests.e2e.server import client, running_server, wait_for
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import POSTGRES_URL, event, just_now, rates_json

DEADLINE_SECONDS = 60.0  # generous: a part turns red after three failed steps, about a second apart
# Failures in a row turn a part red; the stall rule, left at its 30 s, can
# then not be what names it. The stuck follower's test shortens the stall.
FAILURE_SETTINGS = {"TALLY_HEALTH_FAILURES": "3"}
STALL_SETTINGS = {"TALLY_HEALTH_STALL_SECONDS": "2"}
POLICIES = {"version-watcher", "tier-settler", "dunning", "wallet-policies", "alerts", "webhooks"}


@contextmanager
def outside_connection(database_url: str) -> Iterator[Any]:
    """A connection of the operator's own to the server's database (autocommit)."""
    if database_url.startswith("sqlite:///"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        try:
            yield connection
        finally:
            connection.close()
        return
    schema = parse_qs(urlparse(database_url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL, autocommit=True, options=f"-c search_path={schema}") as connection:
        yield connection


def execute_outside(database_url: str, *statements: str) -> None:
    with outside_connection(database_url) as connection:
        for statement in statements:
            connection.execute(statement)


def refuse_checkpoint_of(database_url: str, name: str) -> list[str]:
    """Statements that make the checkpoint table refuse one policy's writes."""
    if database_url.startswith("sqlite:///"):
        return [
            f"CREATE TRIGGER refuse_{verb} BEFORE {verb} ON tally_checkpoints WHEN NEW.name = '{name}' "
            "BEGIN SELECT RAISE(ABORT, 'checkpoint refused'); END"
            for verb in ("INSERT", "UPDATE")
        ]
    return [
        "CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'checkpoint refused'; END $$",
        "CREATE TRIGGER refuse_checkpoint BEFORE INSERT OR UPDATE ON tally_checkpoints FOR EACH ROW "
        f"WHEN (NEW.name = '{name}') EXECUTE FUNCTION refuse_checkpoint()",
    ]


def accept_checkpoints(database_url: str) -> list[str]:
    if database_url.startswith("sqlite:///"):
        return ["DROP TRIGGER refuse_INSERT", "DROP TRIGGER refuse_UPDATE"]
    return ["DROP TRIGGER refuse_checkpoint ON tally_checkpoints", "DROP FUNCTION refuse_checkpoint()"]


def health(base: str) -> httpx.Response:
    return httpx.get(f"{base}/healthz", timeout=10)


def red_naming(base: str, part: str) -> dict[str, Any] | None:
    answer = health(base)
    if answer.status_code == 503 and part in answer.json()["detail"]:
        return dict(answer.json())
    return None


def green(base: str) -> dict[str, Any] | None:
    answer = health(base)
    return dict(answer.json()) if answer.status_code == 200 else None


def parts_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {part["name"]: part for part in body["parts"]}


def metric(base: str, name: str, part: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = re.search(rf'^{name}\{{part="{re.escape(part)}"\}} (\S+)$', text, re.MULTILINE)
    assert found, f"{name} for {part} is not in /metrics"
    return float(found.group(1))


def caught_up(api: httpx.Client) -> bool:
    body = api.get("/healthz").json()
    return bool(body["log_position"] == body["projection_position"])


def test_a_failing_follower_turns_health_red_and_back(database_url: str) -> None:
    with running_server(database_url, env_extra=FAILURE_SETTINGS) as base, client(base) as api:
        setup_catalog(api)
        assert wait_for(lambda: caught_up(api), timeout=DEADLINE_SECONDS)
        body = health(base).json()
        assert {part["name"] for part in body["parts"]} == {"follower"} | POLICIES
        assert all(part["status"] == "ok" for part in body["parts"]), body

        execute_outside(database_url, "ALTER TABLE view_balances RENAME TO view_balances_moved")
        sent = api.post("/v1/events", json={"events": [event("after-the-break", timestamp=just_now())]})
        assert sent.json()["results"][0]["status"] == "accepted"

        red = wait_for(lambda: red_naming(base, "follower"), timeout=DEADLINE_SECONDS, interval=0.2)
        assert red, health(base).text
        assert red["code"] == "unavailable" and red["status"] == 503 and red["title"]
        assert {"loc": "parts.follower"} in [{"loc": error["loc"]} for error in red["errors"]]
        follower = parts_of(red)["follower"]
        assert follower["status"] == "failing" and follower["consecutive_failures"] >= 3, follower
        assert "view_balances" in follower["last_error"]["message"] and follower["last_error"]["type"]
        assert "Traceback" not in health(base).text
        assert red["projection_position"] < red["log_position"]
        assert metric(base, "tally_part_failures_total", "follower") >= 3
        assert metric(base, "tally_part_consecutive_failures", "follower") >= 3
        assert metric(base, "tally_part_healthy", "follower") == 0

        execute_outside(database_url, "ALTER TABLE view_balances_moved RENAME TO view_balances")
        back = wait_for(lambda: green(base), timeout=DEADLINE_SECONDS, interval=0.2)
        assert back, health(base).text
        assert parts_of(back)["follower"]["consecutive_failures"] == 0
        assert wait_for(lambda: caught_up(api), timeout=DEADLINE_SECONDS)
        assert metric(base, "tally_part_healthy", "follower") == 1
        assert metric(base, "tally_part_failures_total", "follower") >= 3  # a counter: the failures stay counted


def test_one_failing_policy_does_not_starve_the_others(database_url: str) -> None:
    """The version watcher's checkpoint is refused, so every step of it fails;
    the alert policy, which ran after it in the same loop, still raises alerts."""
    with running_server(database_url, env_extra=FAILURE_SETTINGS) as base, client(base) as api:
        setup_catalog(api)
        assert api.put("/v1/customers/acme/limits", json={"low_balance": "30"}).status_code == 200
        execute_outside(database_url, *refuse_checkpoint_of(database_url, "version-watcher"))
        version = {"effective_from": "2026-02-01T00:00:00Z", "rates": rates_json()}
        assert api.post("/v1/price-books/default/versions", json=version).status_code == 201

        red = wait_for(lambda: red_naming(base, "version-watcher"), timeout=DEADLINE_SECONDS, interval=0.2)
        assert red, health(base).text
        parts = parts_of(red)
        assert parts["version-watcher"]["status"] == "failing"
        assert "checkpoint refused" in parts["version-watcher"]["last_error"]["message"]
        assert all(parts[name]["status"] == "ok" for name in parts if name != "version-watcher"), parts
        assert metric(base, "tally_part_failures_total", "version-watcher") >= 3

        # The balance (25) is below the low-balance mark (30): one usage event
        # makes the alert policy look at acme, while the watcher keeps failing.
        api.post("/v1/events", json={"events": [event("while-the-watcher-fails", timestamp=just_now())]})
        alerts = wait_for(lambda: api.get("/v1/customers/acme/alerts").json()["alerts"], timeout=DEADLINE_SECONDS)
        assert [alert["kind"] for alert in alerts] == ["low_balance"]
        assert health(base).status_code == 503, "the watcher still fails"

        execute_outside(database_url, *accept_checkpoints(database_url))
        back = wait_for(lambda: green(base), timeout=DEADLINE_SECONDS, interval=0.2)
        assert back, health(base).text
        assert parts_of(back)["version-watcher"]["last_success_at"]


def test_a_stuck_projector_process_is_a_stall(postgres_url: str) -> None:
    """On PostgreSQL the follower runs in a child process. Held on a row lock
    it neither fails nor advances: the server sees the log move on without it."""
    with running_server(postgres_url, env_extra=STALL_SETTINGS) as base, client(base) as api:
        setup_catalog(api)
        assert wait_for(lambda: caught_up(api), timeout=DEADLINE_SECONDS)
        with outside_connection(postgres_url) as holder, holder.transaction():
            holder.execute("SELECT position FROM view_tracking WHERE name = %s FOR UPDATE", (VIEW_NAME,))
            api.post("/v1/events", json={"events": [event("while-stuck", timestamp=just_now())]})
            red = wait_for(lambda: red_naming(base, "follower"), timeout=DEADLINE_SECONDS, interval=0.2)
            assert red, health(base).text
            follower = parts_of(red)["follower"]
            assert follower["status"] == "stalled" and follower["consecutive_failures"] == 0, follower
        back = wait_for(lambda: green(base), timeout=DEADLINE_SECONDS, interval=0.2)
        assert back, health(base).text
        assert wait_for(lambda: caught_up(api), timeout=DEADLINE_SECONDS)
