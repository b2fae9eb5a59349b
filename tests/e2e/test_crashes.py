"""Crash safety: the server and its projector killed outright (SIGKILL) in the
middle of ingestion, on SQLite and on PostgreSQL. After a restart and a full
resend of every batch, as a gateway that got no answer would do, every usage
event is recorded exactly once, every balance is exact, the trial balance is
zero, and `tally audit` and `tally replay` pass. A replay killed before its
swap leaves the live views as they were, and a projector killed while it holds
its health lock still leaves /healthz answering."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from infrastructure.databases import open_database
from infrastructure.storage import parse_database_url
from interfaces.bootstrap import LIVE_PREFIX
from projections import rebuild
from projections.database import Database
from tests.conftest import open_services
from tests.e2e.server import client, server_process, tally_command, wait_for
from tests.e2e.test_cli import tally
from tests.e2e.test_rest_flow import graphql, setup_catalog
from tests.support import event, expected_charge, just_now, seed

pytestmark = pytest.mark.slow

# acme is created by setup_catalog with 25 granted; the others get more, so
# that the usage overdraws one wallet and not the others.
GRANTS = {"acme": Decimal("25"), "north": Decimal("500"), "south": Decimal("500")}
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5")
BATCHES = 32
FRESH_PER_BATCH = 90
RETRIED_PER_BATCH = 10  # the previous batch's last events, sent again as a retry would
SENDERS = 4
ANSWERS_BEFORE_KILL = 8
CATCH_UP_SECONDS = 60
SAMPLE_EVERY = 40


def usage_events(now: str) -> list[dict[str, Any]]:
    """Every event once, with quantities that differ per event, so a doubled or
    lost event changes every sum it is part of."""
    customers = sorted(GRANTS)
    return [
        event(
            f"crash-{index}",
            customer=customers[index % len(customers)],
            model=MODELS[index % len(MODELS)],
            timestamp=now,
            input_tokens=100 + index,
            output_tokens=1 + index % 50,
        )
        for index in range(BATCHES * FRESH_PER_BATCH)
    ]


def usage_batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches = []
    for number in range(BATCHES):
        start = number * FRESH_PER_BATCH
        retried = events[max(0, start - RETRIED_PER_BATCH) : start]
        batches.append(events[start : start + FRESH_PER_BATCH] + retried)
    return batches


def expected_balances(events: list[dict[str, Any]]) -> dict[str, Decimal]:
    balances = dict(GRANTS)
    for body in events:
        balances[body["customer"]] -= expected_charge(body)[1]
    return balances


@dataclass
class Outcome:
    """What the clients saw: every answered result, and the batches that got no answer."""

    results: list[dict[str, Any]] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    answered: int = 0


def send_batches(base: str, batches: list[list[dict[str, Any]]], kill: Callable[[], None] | None = None) -> Outcome:
    """Send every batch from several client threads; `kill` runs in the thread
    that receives the ANSWERS_BEFORE_KILL-th answer, while the others are in flight."""
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(batches)):
        pending.put(index)
    outcome, lock = Outcome(), threading.Lock()

    def sender() -> None:
        with client(base) as api:
            while True:
                try:
                    index = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = api.post("/v1/events", json={"events": batches[index]})
                except httpx.TransportError as error:
                    with lock:
                        outcome.unanswered.append(f"batch {index}: {error!r}")
                    continue
                with lock:
                    if response.status_code != 200:
                        outcome.refused.append(f"batch {index}: {response.status_code} {response.text}")
                        continue
                    outcome.results.extend(response.json()["results"])
                    outcome.answered += 1
                    due = kill is not None and outcome.answered == ANSWERS_BEFORE_KILL
                if due:
                    kill()  # type: ignore[misc]

    threads = [threading.Thread(target=sender, name=f"sender-{n}") for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    return outcome


def assert_never_accepted_twice(*outcomes: Outcome) -> None:
    """Each answer a client got: accepted or duplicate, never rejected, and no id accepted twice."""
    results = [result for outcome in outcomes for result in outcome.results]
    statuses = Counter(result["status"] for result in results)
    assert set(statuses) <= {"accepted", "duplicate"}, [r for r in results if r["status"] == "rejected"][:3]
    accepted = Counter(result["id"] for result in results if result["status"] == "accepted")
    assert accepted and max(accepted.values()) == 1, accepted.most_common(3)


def balances(api: httpx.Client) -> dict[str, Decimal]:
    return {customer: Decimal(api.get(f"/v1/customers/{customer}/balance").json()["balance"]) for customer in GRANTS}


def caught_up(api: httpx.Client, expected: dict[str, Decimal]) -> bool:
    health = api.get("/healthz")
    if health.status_code != 200:
        return False
    positions = health.json()
    return bool(positions["projection_position"] >= positions["log_position"] and balances(api) == expected)


def usage_refs(api: httpx.Client, customer: str) -> Counter[str]:
    """The causes of the usage entries on a customer's wallet, page by page."""
    refs: Counter[str] = Counter()
    params: dict[str, Any] = {"account": f"liabilities:wallet:{customer}", "limit": 500}
    while True:
        page = api.get("/v1/ledger/entries", params=params).json()
        refs.update(entry["cause"]["ref"] for entry in page["entries"] if entry["kind"] != "grant")
        if page["next_cursor"] is None:
            return refs
        params["cursor"] = page["next_cursor"]


def usage_totals(api: httpx.Client, customer: str) -> tuple[int, Decimal]:
    """(input tokens, charge) of a customer's usage buckets over GraphQL."""
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=2)).isoformat(), (now + timedelta(days=1)).isoformat()
    query = (
        f'{{ customer(id: "{customer}") {{ usage(from: "{start}", to: "{end}", granularity: DAY) '
        "{ quantities { unit quantity } charge { amount } } } }"
    )
    buckets = graphql(api, query)["data"]["customer"]["usage"]
    tokens = sum(int(q["quantity"]) for b in buckets for q in b["quantities"] if q["unit"] == "input_tokens")
    return tokens, sum((Decimal(b["charge"]["amount"]) for b in buckets), Decimal(0))


def assert_recorded_exactly_once(api: httpx.Client, events: list[dict[str, Any]]) -> None:
    for customer in GRANTS:
        own = [body for body in events if body["customer"] == customer]
        assert usage_refs(api, customer) == Counter(f"usage:{customer}:{body['id']}" for body in own)
        tokens, charged = usage_totals(api, customer)
        assert tokens == sum(body["usage"]["input_tokens"] for body in own)
        assert charged == sum((expected_charge(body)[1] for body in own), Decimal(0))
    for body in events[::SAMPLE_EVERY]:
        recorded = api.get(f"/v1/events/{body['customer']}/{body['id']}")
        assert recorded.status_code == 200, recorded.text
        assert Decimal(recorded.json()["rating"]["charge"]) == expected_charge(body)[1]


def assert_books_exact(api: httpx.Client, events: list[dict[str, Any]]) -> None:
    expected = expected_balances(events)
    assert wait_for(lambda: caught_up(api, expected), timeout=CATCH_UP_SECONDS, interval=0.2), (
        api.get("/healthz").text,
        balances(api),
        expected,
    )
    assert_recorded_exactly_once(api, events)
    for currency in api.get("/v1/ledger/trial-balance").json()["currencies"]:
        assert Decimal(currency["debits"]) == Decimal(currency["credits"]), currency


def assert_audit_and_replay_pass(database_url: str, api: httpx.Client, events: list[dict[str, Any]]) -> None:
    audited = tally(database_url, "audit")
    assert audited.returncode == 0, audited.stderr
    assert "audit passed" in audited.stderr
    replayed = tally(database_url, "replay")
    assert replayed.returncode == 0, replayed.stderr
    assert balances(api) == expected_balances(events)


def resend_and_check(
    database_url: str, first: Outcome, events: list[dict[str, Any]], env: dict[str, str], log: Path
) -> None:
    """What an operator and a gateway do after a crash: start the server again
    and send every batch once more; then nothing is lost and nothing doubled."""
    with server_process(database_url, env_extra=env, log=log) as (base, _process):
        again = send_batches(base, usage_batches(events))
        assert not again.unanswered and not again.refused, (again.unanswered, again.refused)
        assert_never_accepted_twice(first, again)
        with client(base) as api:
            assert_books_exact(api, events)
            assert_audit_and_replay_pass(database_url, api, events)


def seeded_events(base: str) -> list[dict[str, Any]]:
    with client(base) as api:
        setup_catalog(api)
        for customer in sorted(set(GRANTS) - {"acme"}):
            created = {"id": customer, "name": customer.title(), "currency": "USD", "plan": "pro", "billing": "prepaid"}
            assert api.post("/v1/customers", json=created).status_code == 201
            grant = {"id": "welcome", "amount": str(GRANTS[customer]), "source": "grant"}
            assert api.post(f"/v1/customers/{customer}/top-ups", json=grant).status_code == 201
    return usage_events(just_now())


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[Path]:
    """What the test's servers wrote to stderr; printed, so shown when the test fails."""
    log = tmp_path / "server.log"
    yield log
    if log.exists():
        print(log.read_text()[-20_000:])


def test_server_killed_mid_ingestion_loses_and_doubles_nothing(database_url: str, server_log: Path) -> None:
    with server_process(database_url, log=server_log) as (base, process):
        events = seeded_events(base)
        first = send_batches(base, usage_batches(events), kill=lambda: os.kill(process.pid, signal.SIGKILL))
        assert process.wait(timeout=30) == -signal.SIGKILL
    assert first.unanswered, "the kill came after the last batch: nothing was in flight"
    assert not first.refused, first.refused
    resend_and_check(database_url, first, events, {}, server_log)


def projector_pid(server_pid: int) -> int:
    """The server's projector child: the multiprocessing child started with
    spawn_main (the other child, if any, is multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == server_pid and b"spawn_main" in command:
            found.append(int(entry.name))
    assert len(found) == 1, f"expected one projector process under {server_pid}, found {found}"
    return found[0]


def test_projector_killed_mid_ingestion_recovers_on_restart(database_url: str, server_log: Path) -> None:
    env = {"TALLY_PROJECTOR": "process"}  # on SQLite the follower is a thread unless asked otherwise
    with server_process(database_url, env_extra=env, log=server_log) as (base, process):
        events = seeded_events(base)
        with client(base) as api:
            assert wait_for(lambda: caught_up(api, GRANTS), timeout=CATCH_UP_SECONDS), "the projector never started"
        projector = projector_pid(process.pid)
        first = send_batches(base, usage_batches(events), kill=lambda: os.kill(projector, signal.SIGKILL))
        assert not first.unanswered and not first.refused, (first.unanswered, first.refused)
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 503, health.text
        assert "projector" in health.json()["detail"]
        assert process.poll() is None, "the server itself keeps answering"
    resend_and_check(database_url, first, events, env, server_log)


# Two pages of the follower (2000 notifications each): a replay killed once
# its first page is in leaves a partly built scratch copy behind.
REPLAYED_EVENTS = 3000


def filled_store(url: str) -> None:
    services = open_services(url)
    try:
        seed(services.app)
        for first in range(0, REPLAYED_EVENTS, 1000):
            services.app.metering.record_usage(
                [event(f"r{n}", model=MODELS[n % 2]) for n in range(first, first + 1000)]
            )
        services.follower.catch_up()
    finally:
        services.close()


def scratch_positions(database: Database) -> dict[str, int]:
    """Each scratch copy of the read model (a replay's or an audit's) and the position it has reached."""
    if database.dialect.name == "sqlite":
        tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
    else:
        tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE ?"
    with database.snapshot() as cursor:
        cursor.execute(tables, (f"{rebuild.SCRATCH_ROOT}%tracking",))
        names = [row[0] for row in cursor.fetchall()]
        positions = {}
        for name in names:
            cursor.execute(f"SELECT position FROM {name}")
            positions[name] = int(cursor.fetchone()[0])
        return positions


def live_views(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    with database.snapshot() as cursor:
        return rebuild.dump(cursor, LIVE_PREFIX)


def test_a_replay_killed_before_its_swap_leaves_the_live_views_intact(database_url: str) -> None:
    filled_store(database_url)
    database = open_database(parse_database_url(database_url))
    try:
        before = live_views(database)
        env = {**os.environ, "TALLY_DATABASE_URL": database_url}
        replay = subprocess.Popen(
            tally_command("replay"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            # Killed as soon as its first page is in its scratch tables, well before the last.
            begun = wait_for(lambda: any(scratch_positions(database).values()), timeout=CATCH_UP_SECONDS)
        finally:
            replay.kill()  # SIGKILL
            replay.wait(timeout=30)
        assert begun, "the replay never wrote a page"
        assert replay.returncode == -signal.SIGKILL, "the replay ended before it was killed"
        head = int(before["tracking"][0][1])
        left = list(scratch_positions(database).values())
        assert len(left) == 1 and 0 < left[0] < head, f"not killed half way: scratch at {left}, the log at {head}"
        assert live_views(database) == before
    finally:
        database.close()
    # A whole replay then finds the live views equal to what the history gives.
    replayed = tally(database_url, "replay")
    assert replayed.returncode == 0, replayed.stderr
    assert "the rebuilt projections equal the ones they replaced" in replayed.stderr


# Opens the projector's health lock (a named POSIX semaphore) and takes it.
HOLD_SEMAPHORE = """
import ctypes, ctypes.util, sys, time
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.sem_open.restype = ctypes.c_void_p
libc.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
semaphore = libc.sem_open(sys.argv[1].encode(), 0)
if semaphore in (None, ctypes.c_void_p(-1).value) or libc.sem_wait(ctypes.c_void_p(semaphore)) != 0:
    sys.exit(f"cannot take {sys.argv[1]}: errno {ctypes.get_errno()}")
print("held", flush=True)
time.sleep(600)
"""


def health_semaphore(pid: int) -> str | None:
    """The name of the one multiprocessing semaphore a process has mapped (none
    while the projector is still starting)."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    names = {line.split("/dev/shm/sem.")[1].split()[0] for line in maps if "/dev/shm/sem.mp-" in line}
    assert len(names) <= 1, names
    return "/" + names.pop() if names else None


def test_healthz_answers_when_the_projector_dies_holding_its_health_lock(database_url: str, server_log: Path) -> None:
    """The follower takes the lock of the health record it shares with the
    server for a moment at every step; a SIGKILL in that moment leaves the lock
    taken for good. This stages it: a helper process takes the lock and is
    killed, and so is the projector. /healthz must still answer, and say the
    projector has stopped, instead of waiting for the lock forever."""
    env = {"TALLY_PROJECTOR": "process"}
    with server_process(database_url, env_extra=env, log=server_log) as (base, process):
        projector = projector_pid(process.pid)
        semaphore = wait_for(lambda: health_semaphore(projector), timeout=CATCH_UP_SECONDS)
        assert semaphore, "the projector never opened its health lock"
        holder = subprocess.Popen([sys.executable, "-c", HOLD_SEMAPHORE, semaphore], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            os.kill(holder.pid, signal.SIGKILL)
            os.kill(projector, signal.SIGKILL)
            health = httpx.get(f"{base}/healthz", timeout=5)
            assert health.status_code == 503 and "projector" in health.json()["detail"], health.text
        finally:
            holder.kill()
            holder.wait(timeout=10)
            os.kill(process.pid, signal.SIGKILL)  # a request thread may be stuck: no graceful stop
