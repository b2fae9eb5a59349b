"""The command line against a real store: replay, audit, export, demo."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from interfaces.bootstrap import LIVE_PREFIX
from tests.conftest import open_services
from tests.e2e.server import free_port, tally_command, wait_for
from tests.support import event, rates_json, seed


def tally(url: str, *args: str, timeout: float = 120, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_DATABASE_URL": url, "TALLY_ADMIN_KEY": "k", **env_vars}
    return subprocess.run(tally_command(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False)


def filled(url: str) -> None:
    services = open_services(url)
    seed(services.app)
    services.app.metering.record_usage([event(f"e{i}", model=("gpt-4o", "gpt-4o-mini")[i % 2]) for i in range(50)])
    services.follower.catch_up()
    services.close()


def test_replay_rebuilds_equal_projections_and_audit_passes(database_url: str) -> None:
    filled(database_url)
    replayed = tally(database_url, "replay")
    assert replayed.returncode == 0, replayed.stderr
    assert "equal the ones they replaced" in replayed.stderr
    assert "by one process" in replayed.stderr  # a short log: workers would not repay their start
    audited = tally(database_url, "audit")
    assert audited.returncode == 0, audited.stderr
    assert "re-checked: 50 ratings, 0 tier settlements, 0 invoices" in audited.stderr


def test_replay_and_audit_with_the_workers_asked_for(database_url: str) -> None:
    """TALLY_REPLAY_WORKERS: the scratch view filled by that many processes
    (tests/integration/test_parallel_fill.py interleaves their pages)."""
    filled(database_url)
    replayed = tally(database_url, "replay", TALLY_REPLAY_WORKERS="3")
    assert replayed.returncode == 0, replayed.stderr
    assert "equal the ones they replaced" in replayed.stderr
    assert "by 3 processes" in replayed.stderr
    audited = tally(database_url, "audit", TALLY_REPLAY_WORKERS="3")
    assert audited.returncode == 0, audited.stderr


def test_audit_exits_non_zero_when_a_projection_differs(database_url: str) -> None:
    filled(database_url)
    services = open_services(database_url)
    with services.database.transaction(write=True) as cursor:
        cursor.execute(
            f"DELETE FROM {LIVE_PREFIX}postings WHERE position = (SELECT MAX(position) FROM {LIVE_PREFIX}postings)"
        )
    services.close()
    audited = tally(database_url, "audit")
    assert audited.returncode == 1
    assert "postings" in audited.stderr


def test_export_ledger_writes_every_posting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/tally.db"
    filled(url)
    exported = tally(url, "export", "ledger", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 2 + 50 * 2  # two grants, then a charge and a provider cost per usage event
    # Per account, the export's debits and credits are the ledger's: what an
    # auditor loads elsewhere adds up to the trial balance the read model shows.
    exported_totals: dict[tuple[str, str], list[Decimal]] = {}
    for row in rows:
        amount = Decimal(row["amount"])
        assert amount > 0 and row["debit_account"] != row["credit_account"], row
        exported_totals.setdefault((row["debit_account"], row["currency"]), [Decimal(0), Decimal(0)])[0] += amount
        exported_totals.setdefault((row["credit_account"], row["currency"]), [Decimal(0), Decimal(0)])[1] += amount
    services = open_services(url)
    try:
        ledger = {
            (account.account, totals.currency): [account.debits, account.credits]
            for totals in services.queries.trial_balance()
            for account in totals.accounts
        }
    finally:
        services.close()
    assert exported_totals == ledger
    assert exported_totals[("liabilities:wallet:acme", "USD")][1] == Decimal(100)  # the grant seed() gives
    jsonl = [json.loads(line) for line in tally(url, "export", "ledger", "--format", "jsonl").stdout.splitlines()]
    assert [(r["entry"], r["debit_account"], r["amount"]) for r in jsonl] == [
        (int(r["entry"]) if r["entry"].isdigit() else r["entry"], r["debit_account"], r["amount"]) for r in rows
    ]


def test_serve_refuses_to_start_without_an_admin_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k != "TALLY_ADMIN_KEY"}
    env["TALLY_DATABASE_URL"] = f"sqlite:///{tmp_path}/t.db"
    refused = subprocess.run(tally_command("serve"), env=env, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2
    assert "TALLY_ADMIN_KEY" in refused.stderr


def test_demo_serves_real_prices_and_moving_balances(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**os.environ, "TALLY_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    env.pop("TALLY_ADMIN_KEY", None)
    demo = subprocess.Popen(
        tally_command("demo", "--port", str(port), "--seconds", "25", "--rate", "50"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(healthy, timeout=30)
        key = wait_for(lambda: _admin_key(demo), timeout=5)
        assert key
        headers = {"Authorization": f"Bearer {key}"}
        first = httpx.get(f"{base}/v1/customers/acme/balance", headers=headers).json()["balance"]
        moved = wait_for(
            lambda: httpx.get(f"{base}/v1/customers/acme/balance", headers=headers).json()["balance"] != first,
            timeout=10,
        )
        assert moved
        book = httpx.get(f"{base}/v1/price-books/default", headers=headers).json()
        assert book["versions"][0]["source"].startswith("genai-prices")
        initech = httpx.get(f"{base}/v1/customers/initech", headers=headers).json()
        assert initech["billing_details"]["name"] == "Initech GmbH"  # what its invoices print
        assert httpx.get(f"{base}/docs").status_code == 200
        assert "graphiql" in httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}).text.lower()
    finally:
        demo.terminate()
        demo.wait(timeout=15)


def _admin_key(process: subprocess.Popen[str]) -> str | None:
    assert process.stderr is not None
    while True:
        line = process.stderr.readline()
        if not line:
            return None
        if "admin key" in line:
            return line.split()[-1]


def test_audit_reports_a_corrupted_history_instead_of_crashing(database_url: str) -> None:
    filled(database_url)
    services = open_services(database_url)
    if services.database.dialect.name == "sqlite":
        statement = "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), ?, ?) AS BLOB)"
    else:
        statement = "UPDATE tally_events SET state = convert_to(replace(convert_from(state, 'UTF8'), ?, ?), 'UTF8')"
    with services.database.transaction(write=True) as cursor:
        cursor.execute(statement, ('"amount":"0.007800000000"', '"amount":"-0.007800000000"'))
    services.close()
    audited = tally(database_url, "audit")
    assert audited.returncode == 1, audited.stderr
    assert "not valid" in audited.stderr
    assert "Traceback" not in audited.stderr


def test_rerate_from_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/tally.db"
    filled(url)
    services = open_services(url)
    cheaper = [{**r, "price": str(Decimal(r["price"]) / 2)} for r in rates_json()]
    services.app.catalog.publish_price_version("default", datetime(2026, 11, 1, tzinfo=UTC), cheaper, "manual")
    services.close()
    rerated = tally(url, "rerate", "--price-book", "default", "--since", "2026-11-01T00:00:00Z")
    assert rerated.returncode == 0, rerated.stderr
    assert "50 of 50 usage events re-rated" in rerated.stderr
    again = tally(url, "rerate", "--price-book", "default", "--since", "2026-11-01")
    assert "0 of 50 usage events re-rated" in again.stderr
    assert tally(url, "rerate", "--since", "2026-11-01").returncode == 2
    assert tally(url, "audit").returncode == 0
