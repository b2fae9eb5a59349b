"""Usage whose version in force no longer prices it is unpriced again: its
charge reversed, counted unpriced, alerted; and rated again when a version
prices it. Whatever the order in which usage and versions arrive, a usage
ends at the rating the versions in force at its moment give. The version
watcher carries the versions out (both passes), the audit holds every
usage's latest rating against the versions in force, and the settling pass
survives a restart."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from application import version_watcher
from application.audit import audit_history
from application.metering import OPTIMISTIC_BATCH
from application.version_watcher import SETTLED_CHECKPOINT, VersionWatcher
from domain.rating import Rating
from domain.rerating import PreviousRating, adjustment
from domain.usage import rerated_event
from interfaces import presenters
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from projections.checkpoints import SqlCheckpoints
from tests.conftest import open_services
from tests.support import NOW, event, expected_charge, rates_json, seed

WEEK_AGO = datetime(2026, 11, 19, tzinfo=UTC)
MONTH = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def without_gpt4o() -> list[dict[str, Any]]:
    return [rate for rate in rates_json() if rate["model"] != "gpt-4o"]


def halved_gpt4o() -> list[dict[str, Any]]:
    return [{**r, "price": str(Decimal(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]


@pytest.fixture
def no_settling_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version_watcher, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr("application.rerating.CATCH_UP_SECONDS", 0.2)  # no follower runs in these tests


def carry_out(services: Services, watcher: VersionWatcher) -> None:
    """What the server's policy loop does after a publication: both passes of
    the version watcher, the tier settler, each once the read model has
    caught up with the log."""
    checkpoints = watcher.checkpoints
    for _ in range(10):
        services.follower.catch_up()
        watcher.step()
        services.follower.catch_up()
        services.settler.step()
        services.follower.catch_up()
        head = services.app.store.recorder.max_notification_id() or 0
        first, settled = (checkpoints.get(name) for name in (version_watcher.CHECKPOINT, SETTLED_CHECKPOINT))
        if first == settled and services.queries.position() == head and not _unhandled(services, first):
            return
    raise AssertionError("the version watcher did not carry out every version")


def _unhandled(services: Services, position: int) -> bool:
    return bool(services.app.store.recorder.select_notifications(position, 1, topics=version_watcher.TOPICS,
                                                           inclusive_of_start=False))  # fmt: skip


def balance(services: Services, customer: str = "acme") -> Decimal:
    services.follower.catch_up()
    return services.queries.balance(customer, "USD")[0]


def assert_clean(services: Services, checkpoints: SqlCheckpoints) -> None:
    for currency in services.queries.trial_balance():
        assert currency.debits == currency.credits
    report = audit_history(services.app, checkpoints=checkpoints)
    assert report.problems == [], report.problems
    assert (report.pending_versions, report.awaiting_rerating) == ([], [])
    decode = services.app.store.mapper.to_domain_event
    assert rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX) == []


def alert_kinds(services: Services, checkpoints: SqlCheckpoints) -> list[str]:
    services.follower.catch_up()
    services.app.alert_policy(checkpoints).step()
    services.follower.catch_up()
    return [found["kind"] for found in services.app.alert_reads.alerts_of("acme", 10)]


def test_a_backdated_version_without_its_model_unprices_rated_usage_until_a_version_prices_it(
    services: Services, no_settling_wait: None
) -> None:
    app, checkpoints = services.app, SqlCheckpoints(services.database)
    watcher = app.version_watcher(checkpoints)
    seed(app)
    carry_out(services, watcher)
    rated, other = event("e1"), event("m1", model="gpt-4o-mini")
    app.metering.record_usage([rated, other])
    _, charge = expected_charge(rated)
    _, other_charge = expected_charge(other)
    assert balance(services) == Decimal(100) - charge - other_charge
    assert alert_kinds(services, checkpoints) == []

    app.catalog.publish_price_version("default", WEEK_AGO, without_gpt4o(), "manual")
    carry_out(services, watcher)

    assert balance(services) == Decimal(100) - other_charge  # the charge is back in the wallet
    usage = app.metering.find_usage("acme", "e1")
    assert usage is not None and usage.rating is None and [r.price_version for r in usage.ratings] == [1]
    shown = presenters.usage(usage)
    assert (shown["status"], shown["rating"]) == ("unpriced", None)
    reversal = [e for e in services.queries.entries(customer="acme", limit=100) if e.cause_type == "Usage.Unpriced"]
    assert [(e.kind, e.cause_ref) for e in reversal] == [("rerating", "rerating:acme:e1")]
    summary = services.queries.period_summary("acme", *MONTH, NOW)
    assert summary.spend == other_charge
    assert {(m.model, m.spend, m.cost) for m in summary.by_model if m.model == "gpt-4o"} == {
        ("gpt-4o", Decimal(0), Decimal(0))
    }
    assert app.alert_reads.daily_spend("acme", "2026-11-26", "2026-11-26")["2026-11-26"] == (other_charge, 1)
    lines = services.queries.usage_buckets("acme", *MONTH, "day", ["model"])
    assert [(b.cost, b.charge) for b in lines if b.dimensions["model"] == "gpt-4o"] == [(Decimal(0), Decimal(0))]
    assert alert_kinds(services, checkpoints) == ["unpriced_usage"]
    assert_clean(services, checkpoints)

    app.catalog.publish_price_version("default", WEEK_AGO + timedelta(days=1), rates_json(), "manual")
    carry_out(services, watcher)

    assert balance(services) == Decimal(100) - charge - other_charge  # charged once again, not twice
    usage = app.metering.find_usage("acme", "e1")
    assert usage is not None and [r.price_version for r in usage.ratings] == [1, 3]
    assert presenters.usage(usage)["status"] == "rated"
    revenue = next(a for c in services.queries.trial_balance() for a in c.accounts if a.account == "revenue:usage")
    assert revenue.balance == charge + other_charge
    assert app.alert_reads.daily_spend("acme", "2026-11-26", "2026-11-26")["2026-11-26"] == (charge + other_charge, 0)
    assert_clean(services, checkpoints)


def test_usage_unpriced_on_an_earlier_day_raises_the_unpriced_alert(services: Services, no_settling_wait: None) -> None:
    """The alert is for usage that has become unpriced, whichever day it
    belongs to: a backdated version mostly unprices usage of earlier days."""
    app, checkpoints = services.app, SqlCheckpoints(services.database)
    watcher = app.version_watcher(checkpoints)
    seed(app)
    carry_out(services, watcher)
    app.metering.record_usage([event("old", timestamp=(NOW - timedelta(days=3)).isoformat())])
    assert alert_kinds(services, checkpoints) == []
    app.catalog.publish_price_version("default", WEEK_AGO, without_gpt4o(), "manual")
    carry_out(services, watcher)
    assert alert_kinds(services, checkpoints) == ["unpriced_usage"]


BOOKS = ("book_a", "book_b", "book_c")


def usage_of(customer: str) -> list[dict[str, Any]]:
    return [
        event("u1", customer),
        event("u2", customer, timestamp=(NOW - timedelta(days=3)).isoformat()),
        event("u3", customer, model="gpt-4o-mini"),
        event("u4", customer, model="claude-sonnet-4-5"),
    ]


def standing_of(services: Services, customer: str) -> dict[str, Any]:
    """What a customer's usage stands at: each event's latest rating, the
    balance, the daily rollups' figures and the usage lines."""
    services.follower.catch_up()
    ratings = {}
    for body in usage_of(customer):
        usage = services.app.metering.find_usage(customer, body["id"])
        assert usage is not None
        latest: Rating | None = usage.rating
        ratings[body["id"]] = None if latest is None else (latest.cost, latest.charge, latest.lines, latest.tiered)
    with services.database.transaction(write=False) as cursor:
        cursor.execute(
            "SELECT day, provider, model, feature, events, unpriced, cost, charge FROM view_usage_daily "
            "WHERE customer = ? ORDER BY day, provider, model, feature",
            (customer,),
        )
        daily = [(*row[:6], Decimal(str(row[6])), Decimal(str(row[7]))) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT unit, occurred_at, provider, model, feature, quantity, cost, charge FROM view_usage_lines "
            "WHERE customer = ? ORDER BY occurred_at, model, unit",
            (customer,),
        )
        lines = [(*row[:6], Decimal(str(row[6])), Decimal(str(row[7]))) for row in cursor.fetchall()]
    return {"ratings": ratings, "balance": balance(services, customer), "daily": daily, "lines": lines}


def test_both_arrival_orders_end_at_the_same_ratings_balances_and_rollups(
    services: Services, no_settling_wait: None
) -> None:
    """Three customers on three identical price books: acme's usage arrives
    before both versions, globex's between them, initech's after both."""
    app, checkpoints = services.app, SqlCheckpoints(services.database)
    watcher = app.version_watcher(checkpoints)
    for customer, book in zip(("acme", "globex", "initech"), BOOKS, strict=True):
        app.catalog.create_price_book(book, "USD")
        app.catalog.publish_price_version(book, datetime(2026, 1, 1, tzinfo=UTC), rates_json(), "manual")
        app.catalog.create_plan(f"plan_{book}", book, Decimal(20), [{"provider": "openai", "model": "gpt-4o-mini",
                                                             "markup_percent": "50"}])  # fmt: skip
        app.customers.create_customer(customer, customer.title(), "USD", f"plan_{book}", "prepaid", 30, None)
        app.wallets.top_up(customer, "welcome", "100", "grant", None)
    carry_out(services, watcher)

    def publish(book: str, version: int) -> None:
        if version == 2:  # backdated, without gpt-4o
            app.catalog.publish_price_version(book, WEEK_AGO, without_gpt4o(), "manual")
        else:  # gpt-4o priced again, at half its first price, from two days ago
            app.catalog.publish_price_version(book, NOW - timedelta(days=2), halved_gpt4o(), "manual")
        carry_out(services, watcher)

    app.metering.record_usage(usage_of("acme"))
    carry_out(services, watcher)
    publish("book_a", 2)
    publish("book_b", 2)
    app.metering.record_usage(usage_of("globex"))
    carry_out(services, watcher)
    assert standing_of(services, "acme") == standing_of(services, "globex")  # unpriced, whichever came first

    publish("book_a", 3)
    publish("book_b", 3)
    publish("book_c", 2)
    publish("book_c", 3)
    app.metering.record_usage(usage_of("initech"))
    carry_out(services, watcher)
    final = standing_of(services, "acme")
    assert final == standing_of(services, "globex") == standing_of(services, "initech")
    assert final["ratings"]["u2"] is None  # three days ago: version 3 is not in force yet
    assert final["ratings"]["u1"] is not None
    assert_clean(services, checkpoints)


def test_the_audit_flags_a_latest_rating_the_versions_in_force_do_not_give(
    services: Services, no_settling_wait: None
) -> None:
    """A correction written by faulty code takes the usage back to its first
    rating after a price cut: it reproduces from the versions it names, its
    differences and entry are consistent, yet it is not the rating in force."""
    app, checkpoints = services.app, SqlCheckpoints(services.database)
    watcher = app.version_watcher(checkpoints)
    seed(app)
    app.metering.record_usage([event("a1")])
    app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
    carry_out(services, watcher)
    usage = app.metering.find_usage("acme", "a1")
    assert usage is not None and len(usage.ratings) == 2
    first, cut = usage.ratings
    previous = PreviousRating(cut.price_version, cut.plan_version, cut.cost, cut.charge, "liabilities:wallet:acme",
                              cut.tiered, cut.currency)  # fmt: skip
    entry = adjustment(previous, first, "openai")
    forged = rerated_event(
        usage.id, usage.version + 1, customer="acme", event_id="a1", occurred_at=usage.occurred_at,
        provider="openai", model="gpt-4o", feature="chat", rating=first.as_dict(),
        adjustment=entry.as_dict() if entry else None, delta_cost=str(first.cost - cut.cost),
        delta_charge=str(first.charge - cut.charge), replaces={"price_version": 2, "plan_version": 1}, reason="forged",
    )  # fmt: skip
    app.store.append([forged])
    services.follower.catch_up()
    problems = audit_history(app, checkpoints=checkpoints).problems
    assert problems == [
        f"usage acme/a1: its latest rating is cost {first.cost}, charge {first.charge}, "
        f"the versions in force give cost {cut.cost}, charge {cut.charge}"
    ]


def test_the_audit_reports_a_version_not_yet_carried_out_as_pending(services: Services, no_settling_wait: None) -> None:
    app, checkpoints = services.app, SqlCheckpoints(services.database)
    watcher = app.version_watcher(checkpoints)
    seed(app)
    carry_out(services, watcher)
    app.metering.record_usage([event("a1"), event("n1", model="gpt-4o-mini")])
    app.catalog.publish_price_version("default", WEEK_AGO, without_gpt4o(), "manual")
    services.follower.catch_up()

    report = audit_history(app, checkpoints=checkpoints)
    assert report.problems == []
    assert report.pending_versions == ["price book default version 2"]
    assert report.awaiting_rerating == ["acme/a1"]

    services.follower.catch_up()
    watcher.step()  # the first pass alone: the settling pass is still to come
    assert audit_history(app, checkpoints=checkpoints).pending_versions == ["price book default version 2"]
    carry_out(services, watcher)
    assert_clean(services, checkpoints)


def test_the_settling_pass_survives_a_restart(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that read the reference data before a version was published
    appends after the version's first pass; the process stops before the
    settling pass. The process that starts next settles the version."""
    writer, operator = open_services(database_url), open_services(database_url)
    try:
        seed(operator.app)
        writer.app.reference.refresh()  # the writer's reference data, read before the publication
        checkpoints = SqlCheckpoints(operator.database)
        before_restart = operator.app.version_watcher(checkpoints)
        operator.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
        operator.follower.catch_up()
        monkeypatch.setattr("application.rerating.CATCH_UP_SECONDS", 0.2)  # no follower runs in this test
        assert before_restart.step() == 3  # first passes: seed's price and plan versions and the cut
        monkeypatch.setattr(writer.app.reference, "refresh", lambda: None)  # the race: a stale batch appends now
        writer.app.metering.record_usage([event("raced")])
        stale = writer.app.metering.find_usage("acme", "raced")
        assert stale is not None and stale.rating is not None and stale.rating.price_version == 1
        del before_restart  # stopped before its settling moment

        monkeypatch.setattr(version_watcher, "SETTLE_SECONDS", 0.0)
        after_restart = operator.app.version_watcher(SqlCheckpoints(operator.database))
        for _ in range(3):  # the policy loop's steps, the read model caught up before each
            operator.follower.catch_up()
            after_restart.step()
        usage = operator.app.metering.find_usage("acme", "raced")
        assert usage is not None and [r.price_version for r in usage.ratings] == [1, 2]
        assert checkpoints.get(SETTLED_CHECKPOINT) == checkpoints.get(version_watcher.CHECKPOINT)
    finally:
        writer.close()
        operator.close()


class SteppedClock:
    """time.monotonic() with a hand to move it on."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


def test_a_batch_reads_the_reference_data_again_when_its_read_grew_old(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose duplicate check takes longer than the bound (a version
    is published meanwhile) rates with the reference data read again, never
    with the read it began with."""
    from application import rating_in_force

    writer, operator = open_services(database_url), open_services(database_url)
    try:
        seed(operator.app)
        clock = SteppedClock()
        monkeypatch.setattr(rating_in_force, "time", clock)
        existing = writer.app.metering.usage_index.existing

        def slow_existing(keys: Any) -> Any:
            found = existing(keys)
            if not operator.app.catalog.price_book("default").versions[1:]:
                operator.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
                clock.offset += rating_in_force.REFERENCE_MAX_AGE_SECONDS + 1
            return found

        monkeypatch.setattr(writer.app.metering.usage_index, "existing", slow_existing)
        batch = [event("slow")] + [event(f"pad{index}") for index in range(OPTIMISTIC_BATCH)]  # asked first
        writer.app.metering.record_usage(batch)
        usage = writer.app.metering.find_usage("acme", "slow")
        assert usage is not None and usage.rating is not None and usage.rating.price_version == 2
    finally:
        writer.close()
        operator.close()


def test_an_append_that_commits_past_the_settling_window_is_logged(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The one way a usage could escape both passes: its insert stalls past
    the settling window. The operator is told, to audit and re-rate."""
    from application import metering, rating_in_force

    seed(services.app)
    clock = SteppedClock()
    monkeypatch.setattr(metering, "time", clock)
    monkeypatch.setattr(rating_in_force, "time", clock)
    append = services.app.store.append

    def stalled(events: Any) -> Any:
        clock.offset += metering.SETTLING_SECONDS
        return append(events)

    monkeypatch.setattr(services.app.store, "append", stalled)
    with caplog.at_level(logging.WARNING, logger="application.metering"):
        assert services.app.metering.record_usage([event("stalled")])[0].status == "accepted"
    assert [r.getMessage() for r in caplog.records if "settling window" in r.getMessage()], caplog.text
