"""Re-rating: a backdated price version re-rates the usage it covers with
adjustment entries; unpriced usage is rated once its price exists; running it
again changes nothing; the ledger balances and replays to the same views."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from application.audit import audit_history
from domain.usage import rerated_event
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from tests.support import Q12, event, expected_charge, rates_json, seed

WEEK_AGO = datetime(2026, 11, 19, tzinfo=UTC)


def halved_gpt4o() -> list[dict]:  # type: ignore[type-arg]
    return [{**r, "price": str(Decimal(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]


def balance(services: Services, customer: str = "acme") -> Decimal:
    services.follower.catch_up()
    return services.queries.balance(customer, "USD")[0]


def test_a_backdated_price_cut_rerates_with_adjustments_once(services: Services) -> None:
    seed(services.app)
    bodies = [event(f"a{i}", model=("gpt-4o", "gpt-4o-mini")[i % 2]) for i in range(20)]
    bodies.append({**event("before"), "timestamp": "2026-11-18T12:00:00Z"})
    services.app.metering.record_usage(bodies)
    services.follower.catch_up()
    before = balance(services)

    services.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
    services.follower.catch_up()
    report = services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="backdated price version")
    services.follower.catch_up()

    cut = [b for b in bodies if b["model"] == "gpt-4o" and b["id"] != "before"]
    assert report.rerated == len(cut)
    new_charge = (expected_charge(cut[0])[0] / 2 * Decimal("1.2")).quantize(Q12, ROUND_HALF_EVEN)
    refund = len(cut) * (expected_charge(cut[0])[1] - new_charge)
    assert balance(services) == before + refund

    usage = services.app.metering.find_usage("acme", cut[0]["id"])
    assert usage is not None and [r.price_version for r in usage.ratings] == [1, 2]
    entries = services.queries.entries(account="revenue:usage", limit=500)
    adjustments = [e for e in entries if e.kind == "rerating"]
    assert len(adjustments) == len(cut)
    assert {p.debit for p in adjustments[0].postings} == {"revenue:usage", "liabilities:payable:provider:openai"}

    services.follower.catch_up()
    again = services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="same again")
    assert (again.rerated, again.conflicts) == (0, 0)
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
    services.follower.catch_up()
    assert services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="published twice").rerated == 0

    (usd,) = services.queries.trial_balance()
    assert usd.debits == usd.credits
    assert audit_history(services.app).problems == []
    decode = services.app.store.mapper.to_domain_event
    assert rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX) == []


def test_unpriced_usage_is_rated_when_its_price_is_published(services: Services) -> None:
    seed(services.app)
    services.app.metering.record_usage([event(f"n{i}", model="gpt-9") for i in range(5)])
    assert balance(services) == Decimal("100")
    rates = [
        *rates_json(),
        {"provider": "openai", "model": "gpt-9", "unit": "input_tokens", "price": "5", "per": 1_000_000},
        {"provider": "openai", "model": "gpt-9", "unit": "output_tokens", "price": "20", "per": 1_000_000},
    ]
    services.app.catalog.publish_price_version("default", WEEK_AGO, rates, "manual")
    services.follower.catch_up()
    report = services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="priced")
    assert report.rerated == 5
    cost = (Decimal(1200) * 5 + Decimal(350) * 20) / 1_000_000
    assert balance(services) == Decimal("100") - 5 * (cost * Decimal("1.2")).quantize(Q12)
    summary = services.queries.period_summary(
        "acme", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    )
    assert summary.spend == 5 * (cost * Decimal("1.2")).quantize(Q12)
    usage = services.app.metering.find_usage("acme", "n0")
    assert usage is not None and usage.rating is not None and usage.rating.cost == cost


def test_the_settling_pass_rerates_usage_that_raced_the_publication(database_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from application import version_watcher
    from projections.checkpoints import SqlCheckpoints
    from tests.conftest import open_services

    writer, operator = open_services(database_url), open_services(database_url)
    try:
        seed(operator.app)
        writer.app.reference.refresh()  # the writer's reference data, read before the publication
        watcher = operator.app.version_watcher(SqlCheckpoints(operator.database))
        operator.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
        operator.follower.catch_up()
        monkeypatch.setattr(version_watcher, "SETTLE_SECONDS", 0.0)
        monkeypatch.setattr("application.rerating.CATCH_UP_SECONDS", 0.2)  # no follower runs in this test
        assert watcher.step() == 3  # seed's price and plan versions, then the cut: nothing recorded yet
        monkeypatch.setattr(writer.app.reference, "refresh", lambda: None)  # the race: a stale batch appends now
        writer.app.metering.record_usage([event("raced")])
        stale = writer.app.metering.find_usage("acme", "raced")
        assert stale is not None and stale.rating is not None and stale.rating.price_version == 1
        refresh = type(writer.app.reference).refresh  # the race is over: the writer reads them afresh again
        monkeypatch.setattr(writer.app.reference, "refresh", lambda *asked: refresh(writer.app.reference, *asked))
        writer.app.metering.record_usage([event(f"after{i}") for i in range(5)])  # rated knowing the cut
        operator.follower.catch_up()
        reports = []
        rerate = operator.app.rerating.rerate

        def rerate_and_keep(**asked: object) -> object:
            reports.append(rerate(**asked))  # type: ignore[arg-type]
            return reports[-1]

        monkeypatch.setattr(operator.app.rerating, "rerate", rerate_and_keep)
        watcher.step()  # the settling pass
        usage = operator.app.metering.find_usage("acme", "raced")
        assert usage is not None and [r.price_version for r in usage.ratings] == [1, 2]
        # It read the raced usage alone: what was rated knowing the cut cannot change.
        assert sum(report.scanned for report in reports) == 1 and sum(report.rerated for report in reports) == 1
    finally:
        writer.close()
        operator.close()


def test_a_rerating_for_a_version_reads_only_the_usage_not_rated_with_it(services: Services) -> None:
    seed(services.app)
    services.app.metering.record_usage([event(f"old{i}", model=("gpt-4o", "gpt-4o-mini")[i % 2]) for i in range(6)])
    services.app.metering.record_usage([event("unpriced", model="gpt-9")])
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
    services.app.metering.record_usage([event(f"new{i}") for i in range(4)])  # rated with version 2 at once
    services.follower.catch_up()
    rated_with = [services.app.metering.find_usage("acme", f"new{i}") for i in range(4)]
    assert all(u is not None and u.rating is not None and u.rating.price_version == 2 for u in rated_with)

    report = services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="v2", version=2)
    assert (report.scanned, report.rerated) == (7, 3)  # the six rated with version 1, and the unpriced one
    services.follower.catch_up()
    everything = services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="all")
    assert (everything.scanned, everything.rerated) == (11, 0)  # what was left out had nothing to change
    again = services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="v2 again", version=2)
    # Read again: the unpriced usage, and the three gpt-4o-mini ones, whose amounts
    # version 2 left as they were (so they kept their rating with version 1).
    assert (again.scanned, again.rerated) == (4, 0)

    services.app.catalog.publish_plan_version("pro", WEEK_AGO, Decimal("30"), [])
    services.follower.catch_up()
    by_plan = services.app.rerating.rerate(plan="pro", since=WEEK_AGO, reason="plan v2", version=2)
    assert (by_plan.scanned, by_plan.rerated) == (11, 10)  # every rating used plan version 1
    services.follower.catch_up()
    plan_again = services.app.rerating.rerate(plan="pro", since=WEEK_AGO, reason="plan v2 again", version=2)
    assert (plan_again.scanned, plan_again.rerated) == (1, 0)
    (usd,) = services.queries.trial_balance()
    assert usd.debits == usd.credits
    assert audit_history(services.app).problems == []


def test_the_audit_recomputes_rerated_ratings(services: Services) -> None:
    seed(services.app)
    services.app.metering.record_usage([event("e1")])
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
    services.follower.catch_up()
    services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="test")
    assert audit_history(services.app).ratings_checked == 2
    new_charge = str((expected_charge(event("e1"))[0] / 2 * Decimal("1.2")).quantize(Q12, ROUND_HALF_EVEN))
    if services.database.dialect.name == "sqlite":
        statement = "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), ?, ?) AS BLOB)"
    else:
        statement = "UPDATE tally_events SET state = convert_to(replace(convert_from(state, 'UTF8'), ?, ?), 'UTF8')"
    with services.database.transaction(write=True) as cursor:
        cursor.execute(statement, (f'"charge":"{new_charge}"', '"charge":"0.001000000000"'))
    problems = audit_history(services.app).problems
    assert any("not reproduced" in problem for problem in problems), problems


def test_the_audit_finds_a_correction_that_misstates_what_it_replaces(services: Services) -> None:
    """A Rerated event written by faulty code: its versions and differences
    do not follow from the rating before it, though its entry balances."""
    seed(services.app)
    services.app.metering.record_usage([event("a1")])
    services.follower.catch_up()
    usage = services.app.metering.find_usage("acme", "a1")
    assert usage is not None and usage.rating is not None
    first = usage.rating.as_dict()
    forged = rerated_event(
        usage.id,
        usage.version + 1,
        customer="acme",
        event_id="a1",
        occurred_at=usage.occurred_at,
        provider="openai",
        model="gpt-4o",
        feature="chat",
        rating=first,
        adjustment=None,
        delta_cost="0.5",
        delta_charge="0",
        replaces={"price_version": 7, "plan_version": 1},
        reason="forged",
    )
    services.app.store.append([forged])
    problems = audit_history(services.app).problems
    assert any("names versions its usage was not rated at" in p for p in problems), problems
    assert any("not new minus previous" in p for p in problems), problems


def test_a_rerating_then_a_first_rating_on_one_connection_keep_the_read_model_moving(services: Services) -> None:
    """Regression: on PostgreSQL the follower's staging table for updates was
    created once per connection with the first page's columns, so a later
    page that updated other columns failed forever (the read model stopped)."""
    seed(services.app)
    services.app.metering.record_usage([event("priced"), event("waiting", model="gpt-9")])
    services.follower.catch_up()
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
    services.follower.catch_up()
    assert services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="cut").rerated == 1
    services.follower.catch_up()  # a page of corrections: the update of the rating columns
    rates = [
        *halved_gpt4o(),
        {"provider": "openai", "model": "gpt-9", "unit": "input_tokens", "price": "5", "per": 1_000_000},
        {"provider": "openai", "model": "gpt-9", "unit": "output_tokens", "price": "20", "per": 1_000_000},
    ]
    services.app.catalog.publish_price_version("default", WEEK_AGO, rates, "manual")
    services.follower.catch_up()
    assert services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="priced").rerated == 1
    services.follower.catch_up()  # a page of first ratings: the update adds the account column
    head = services.app.store.recorder.max_notification_id()
    assert services.queries.position() == head
    cost = (Decimal(1200) * 5 + Decimal(350) * 20) / 1_000_000
    halved = (expected_charge(event("priced"))[0] / 2 * Decimal("1.2")).quantize(Q12, ROUND_HALF_EVEN)
    assert balance(services) == Decimal("100") - halved - (cost * Decimal("1.2")).quantize(Q12)
    assert audit_history(services.app).problems == []
