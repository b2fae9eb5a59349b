"""The read model: trial balance, time travel, rebuild, audit, exactly-once."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

from application.audit import audit_history
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from projections.follower import Follower
from tests.support import event, expected_charge, seed


def fill(services: Services, count: int = 60) -> None:
    seed(services.app)
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"]
    batch = [event(f"e{i}", customer=("acme", "globex")[i % 2], model=models[i % 3]) for i in range(count)]
    services.app.metering.record_usage(batch)
    services.follower.catch_up()


def test_the_trial_balance_is_zero_per_currency(services: Services) -> None:
    fill(services)
    (usd,) = services.queries.trial_balance()
    assert usd.currency == "USD"
    assert usd.debits == usd.credits
    revenue = next(a for a in usd.accounts if a.account == "revenue:usage")
    expected = sum(
        (
            expected_charge(event(f"e{i}", model=["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"][i % 3]))[1]
            for i in range(60)
        ),
        Decimal(0),
    )
    assert revenue.balance == expected


def test_balances_and_trial_balance_as_of_an_earlier_moment(services: Services) -> None:
    seed(services.app)
    services.follower.catch_up()
    before_usage = datetime.now(UTC)
    services.app.metering.record_usage([event("e1")])
    services.follower.catch_up()
    assert services.queries.balance("acme", "USD", before_usage)[0] == Decimal("100")
    assert services.queries.balance("acme", "USD")[0] == Decimal("100") - expected_charge(event("e1"))[1]
    (then,) = services.queries.trial_balance(before_usage)
    assert then.debits == then.credits == Decimal("200")


def test_a_rebuild_equals_what_was_there(services: Services) -> None:
    fill(services)
    with services.database.snapshot() as cursor:
        before = rebuild.dump(cursor, LIVE_PREFIX)
    rebuild.rebuild(
        services.app.store.recorder, services.app.store.mapper.to_domain_event, services.database, LIVE_PREFIX
    )
    with services.database.snapshot() as cursor:
        after = rebuild.dump(cursor, LIVE_PREFIX)
    assert rebuild.compare(before, after) == []
    assert len(after["postings"]) == 2 + 60 * 2


def _indexes(services: Services) -> list[tuple[str, str]]:
    """(table, index) of every index of the view's tables, keys' included."""
    with services.database.snapshot() as cursor:
        if services.database.dialect.name == "sqlite":
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'")
        else:
            cursor.execute("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()")
        rows = cursor.fetchall()
    return sorted((str(table), str(index)) for table, index in rows if str(table).startswith(LIVE_PREFIX))


def test_a_rebuilt_view_has_every_index_of_a_new_one_under_its_own_names(services: Services) -> None:
    """A scratch view is filled without its secondary indexes; the swap must
    leave the live view with all of them (and, on PostgreSQL, with no index
    named for the scratch view that built it), rebuild after rebuild."""
    fill(services)
    fresh = _indexes(services)
    assert {f"{LIVE_PREFIX}postings_debit", f"{LIVE_PREFIX}usage_events_customer"} <= {i for _, i in fresh}, fresh
    for _ in range(2):
        rebuild.rebuild(
            services.app.store.recorder, services.app.store.mapper.to_domain_event, services.database, LIVE_PREFIX
        )
        assert _indexes(services) == fresh


def test_the_audit_passes_on_a_true_history_and_finds_a_tampered_view(services: Services) -> None:
    fill(services)
    report = audit_history(services.app)
    assert report.problems == []
    assert report.ratings_checked == 60
    decode = services.app.store.mapper.to_domain_event
    assert rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX) == []
    with services.database.transaction(write=True) as cursor:
        cursor.execute(f"UPDATE {LIVE_PREFIX}balances SET balance = ? WHERE customer = ?", (Decimal("1000"), "acme"))
    differences = rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX)
    assert [d.table for d in differences] == ["balances"]


def test_two_followers_of_one_view_apply_each_event_once(services: Services) -> None:
    seed(services.app)
    for start in range(0, 400, 100):
        services.app.metering.record_usage([event(f"e{i}") for i in range(start, start + 100)])
    decode = services.app.store.mapper.to_domain_event
    followers = [
        Follower(services.app.store.recorder, decode, services.database, LIVE_PREFIX, page_size=37) for _ in range(2)
    ]
    threads = [threading.Thread(target=f.catch_up) for f in followers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    services.follower.catch_up()
    assert services.queries.balance("acme", "USD")[0] == Decimal("100") - 400 * expected_charge(event("e1"))[1]
    (usd,) = services.queries.trial_balance()
    assert usd.debits == usd.credits


def test_the_audit_finds_a_rating_edited_in_the_event_store(services: Services) -> None:
    fill(services, count=6)
    stored = expected_charge(event("e0"))[1]
    forged = stored + Decimal("0.01")
    if services.database.dialect.name == "sqlite":
        statement = "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), ?, ?) AS BLOB)"
    else:
        statement = "UPDATE tally_events SET state = convert_to(replace(convert_from(state, 'UTF8'), ?, ?), 'UTF8')"
    with services.database.transaction(write=True) as cursor:
        cursor.execute(statement, (f'"{stored}"', f'"{forged}"'))
    report = audit_history(services.app)
    assert any("not reproduced" in problem for problem in report.problems), report.problems


def test_the_audit_reports_both_a_broken_entry_and_the_rating_that_carries_it(services: Services) -> None:
    """A recorded usage's entry is its rating's: the audit parses it once for
    the ledger's check and hands it to the rating's. Where it does not parse,
    both checks still say so, each in its own words."""
    fill(services, count=4)
    if services.database.dialect.name == "sqlite":
        statement = "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), ?, ?) AS BLOB)"
    else:
        statement = "UPDATE tally_events SET state = convert_to(replace(convert_from(state, 'UTF8'), ?, ?), 'UTF8')"
    with services.database.transaction(write=True) as cursor:
        cursor.execute(statement, ('"revenue:usage"', '"income:usage"'))  # no such kind of account
    report = audit_history(services.app)
    assert sum("its journal entry is not valid" in problem for problem in report.problems) == 4, report.problems
    assert sum("its rating cannot be recomputed" in problem for problem in report.problems) == 4, report.problems
    assert report.ratings_checked == 0
