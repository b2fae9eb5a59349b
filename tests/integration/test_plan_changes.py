"""A customer's change of plan takes effect from its moment on, on both
stores: usage before it stays on the old plan, usage after it is on the new
one, whatever order the usage, the change and the price versions arrive in;
the version watcher re-rates the usage a change covers (both passes), the
audit holds every rating against the plan of its moment, and the replay
agrees. The amounts are worked out here, not by the domain code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from application import version_watcher
from application.audit import audit_history
from application.version_watcher import SETTLED_CHECKPOINT, VersionWatcher
from domain.customer import Customer
from domain.rating import Chargeable, rate
from domain.rerating import PreviousRating, adjustment
from domain.tier_settlement import TierSettlement
from domain.usage import rerated_event
from infrastructure.settings import Settings
from interfaces.bootstrap import LIVE_PREFIX, Services, bootstrap
from projections import rebuild
from projections.checkpoints import SqlCheckpoints
from tests.conftest import open_services
from tests.support import ADMIN_KEY, NOW, Q12, event, expected_charge, rates_json, seed

WEEK_AGO = datetime(2026, 11, 19, tzinfo=UTC)
BEFORE = "2026-11-26T17:00:01Z"  # an hour before the first change
SCALE_MARKUP = Decimal(50)  # plan scale: 50 % on every model (pro: 20 %, 50 % on gpt-4o-mini)


@dataclass
class Clock:
    """The application's clock, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Store:
    services: Services
    clock: Clock
    watcher: VersionWatcher
    checkpoints: SqlCheckpoints


@pytest.fixture
def no_settling_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version_watcher, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr("application.rerating.CATCH_UP_SECONDS", 0.2)  # no follower runs in these tests


@pytest.fixture
def store(database_url: str, no_settling_wait: None) -> Iterator[Store]:
    clock = Clock(NOW)
    services = bootstrap(Settings(database_url=database_url, admin_key=ADMIN_KEY), start_follower=False, clock=clock)
    checkpoints = SqlCheckpoints(services.database)
    opened = Store(services, clock, services.app.version_watcher(checkpoints), checkpoints)
    seed(services.app)  # price book default, plan pro; acme and globex on pro with 100 each
    services.app.catalog.create_plan("scale", "default", SCALE_MARKUP, [])
    carry_out(opened)
    yield opened
    services.close()


def carry_out(store: Store) -> None:
    """What the server's policy loop does: both passes of the version
    watcher and the tier settler, each once the read model has caught up."""
    services = store.services
    for _ in range(10):
        services.follower.catch_up()
        store.watcher.step()
        services.follower.catch_up()
        services.settler.step()
        services.follower.catch_up()
        head = services.app.store.recorder.max_notification_id() or 0
        first, settled = (store.checkpoints.get(name) for name in (version_watcher.CHECKPOINT, SETTLED_CHECKPOINT))
        unhandled = services.app.store.recorder.select_notifications(
            first, 1, topics=version_watcher.TOPICS, inclusive_of_start=False
        )
        if first == settled and services.queries.position() == head and not unhandled:
            return
    raise AssertionError("the version watcher did not carry out every change")


def move(store: Store, customer: str, plan: str, at: datetime) -> None:
    store.clock.now = at
    store.services.app.customers.update_customer(customer, None, plan, None)


def halved_gpt4o() -> list[dict[str, Any]]:
    return [{**r, "price": str(Decimal(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]


def charge(body: dict[str, Any], markup: Decimal, price_share: Decimal = Decimal(1)) -> Decimal:
    """The charge of a gpt-4o usage at `markup` percent, its prices times `price_share`."""
    cost = expected_charge(body)[0] * price_share
    return (cost + cost * markup / 100).quantize(Q12, rounding=ROUND_HALF_EVEN)


def latest(store: Store, customer: str, event_id: str) -> tuple[str, Decimal] | None:
    """The plan and charge of a usage's latest rating (None: unpriced)."""
    usage = store.services.app.metering.find_usage(customer, event_id)
    assert usage is not None
    return None if usage.rating is None else (usage.rating.plan, usage.rating.charge)


def balance(store: Store, customer: str) -> Decimal:
    store.services.follower.catch_up()
    return store.services.queries.balance(customer, "USD")[0]


def assert_clean(store: Store) -> None:
    services = store.services
    for currency in services.queries.trial_balance():
        assert currency.debits == currency.credits
    report = audit_history(services.app, checkpoints=store.checkpoints)
    assert report.problems == [], report.problems
    assert (report.pending_versions, report.awaiting_rerating) == ([], [])
    decode = services.app.store.mapper.to_domain_event
    assert rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX) == []


def test_a_backdated_version_rates_usage_from_before_a_change_under_the_old_plan_in_either_order(store: Store) -> None:
    """acme moves to scale before a backdated price cut, globex after it;
    both had the same usage before and after their change."""
    app = store.services.app
    app.metering.record_usage([event("u1", customer) for customer in ("acme", "globex")])
    carry_out(store)
    move(store, "acme", "scale", NOW)
    store.clock.now = NOW + timedelta(minutes=1)
    app.metering.record_usage([event("u2", "acme", timestamp="2026-11-26T18:00:30Z")])
    carry_out(store)
    app.catalog.publish_price_version("default", WEEK_AGO, halved_gpt4o(), "manual")
    carry_out(store)
    move(store, "globex", "scale", NOW)
    store.clock.now = NOW + timedelta(minutes=1)
    app.metering.record_usage([event("u2", "globex", timestamp="2026-11-26T18:00:30Z")])
    carry_out(store)

    half = Decimal("0.5")
    before, after = charge(event("u1"), Decimal(20), half), charge(event("u2"), SCALE_MARKUP, half)
    for customer in ("acme", "globex"):
        assert latest(store, customer, "u1") == ("pro", before), customer
        assert latest(store, customer, "u2") == ("scale", after), customer
        assert balance(store, customer) == Decimal(100) - before - after, customer
    assert_clean(store)


def test_usage_from_before_a_change_arriving_after_it_is_rated_under_the_old_plan(store: Store) -> None:
    app = store.services.app
    move(store, "acme", "scale", NOW)
    store.clock.now = NOW + timedelta(minutes=10)
    late, early_then, after = (
        event("late", timestamp="2026-11-26T17:30:00Z"),
        event("early", timestamp="2026-11-20T09:00:00Z"),
        event("after", timestamp="2026-11-26T18:05:00Z"),
    )
    results = app.metering.record_usage([late, early_then, after])
    assert [result.status for result in results] == ["accepted"] * 3
    assert latest(store, "acme", "late") == ("pro", charge(late, Decimal(20)))
    assert latest(store, "acme", "early") == ("pro", charge(early_then, Decimal(20)))
    assert latest(store, "acme", "after") == ("scale", charge(after, SCALE_MARKUP))
    carry_out(store)
    assert latest(store, "acme", "late") == ("pro", charge(late, Decimal(20)))
    assert latest(store, "acme", "after") == ("scale", charge(after, SCALE_MARKUP))
    assert balance(store, "acme") == Decimal(100) - 2 * charge(late, Decimal(20)) - charge(after, SCALE_MARKUP)
    assert_clean(store)


def test_usage_recorded_ahead_of_a_change_is_rerated_to_the_new_plan(store: Store) -> None:
    """Usage may be timestamped up to five minutes ahead: recorded before the
    change, it is the new plan's from the change on. Until the watcher has
    carried the change out, the audit reports it pending, not a problem."""
    app = store.services.app
    ahead, just_before = (
        event("ahead", timestamp="2026-11-26T18:04:00Z"),
        event("before", timestamp="2026-11-26T17:59:00Z"),
    )
    app.metering.record_usage([ahead, just_before])
    carry_out(store)
    assert latest(store, "acme", "ahead") == ("pro", charge(ahead, Decimal(20)))
    move(store, "acme", "scale", NOW + timedelta(minutes=1))

    store.services.follower.catch_up()
    report = audit_history(app, checkpoints=store.checkpoints)
    assert report.problems == []
    assert report.pending_versions == ["customer acme change to plan scale at 2026-11-26T18:01:00+00:00"]
    assert report.awaiting_rerating == ["acme/ahead"]

    carry_out(store)
    assert latest(store, "acme", "ahead") == ("scale", charge(ahead, SCALE_MARKUP))
    assert latest(store, "acme", "before") == ("pro", charge(just_before, Decimal(20)))
    usage = app.metering.find_usage("acme", "ahead")
    assert usage is not None and [rating.plan for rating in usage.ratings] == ["pro", "scale"]
    assert balance(store, "acme") == Decimal(100) - charge(ahead, SCALE_MARKUP) - charge(just_before, Decimal(20))
    assert_clean(store)


def test_unpriced_usage_from_before_a_change_is_rated_under_the_old_plan_once_priced(store: Store) -> None:
    app = store.services.app
    waiting = event("n1", model="gpt-9")
    app.metering.record_usage([waiting])
    carry_out(store)
    assert latest(store, "acme", "n1") is None
    move(store, "acme", "scale", NOW)
    carry_out(store)
    assert latest(store, "acme", "n1") is None
    priced = [
        *rates_json(),
        {"provider": "openai", "model": "gpt-9", "unit": "input_tokens", "price": "5", "per": 1_000_000},
        {"provider": "openai", "model": "gpt-9", "unit": "output_tokens", "price": "20", "per": 1_000_000},
    ]
    app.catalog.publish_price_version("default", WEEK_AGO, priced, "manual")
    carry_out(store)
    cost = (Decimal(1200) * 5 + Decimal(350) * 20) / 1_000_000
    expected = (cost * Decimal("1.2")).quantize(Q12)
    assert latest(store, "acme", "n1") == ("pro", expected)
    assert balance(store, "acme") == Decimal(100) - expected
    assert_clean(store)


def test_the_audit_flags_a_rating_under_the_wrong_plan(store: Store) -> None:
    """A correction written by faulty code rates usage from before the change
    under the new plan: it reproduces from the versions it names, its entry
    and differences are consistent, yet it is not the plan of its moment."""
    app = store.services.app
    app.metering.record_usage([event("u1")])
    move(store, "acme", "scale", NOW)
    carry_out(store)
    assert_clean(store)

    usage = app.metering.find_usage("acme", "u1")
    assert usage is not None and usage.rating is not None
    book, scale = app.reference.price_books["default"], app.reference.plans["scale"]
    item = Chargeable("acme", "prepaid", "USD", "openai", "gpt-4o", {"input_tokens": 1200, "output_tokens": 350})
    wrong = rate(item, "default", book.versions[0], "scale", scale.versions[0])
    first = usage.rating
    previous = PreviousRating(first.price_version, first.plan_version, first.cost, first.charge,
                              "liabilities:wallet:acme", first.tiered, first.currency)  # fmt: skip
    entry = adjustment(previous, wrong, "openai")
    forged = rerated_event(
        usage.id, usage.version + 1, customer="acme", event_id="u1", occurred_at=usage.occurred_at,
        provider="openai", model="gpt-4o", feature="chat", rating=wrong.as_dict(),
        adjustment=entry.as_dict() if entry else None, delta_cost=str(wrong.cost - first.cost),
        delta_charge=str(wrong.charge - first.charge), replaces={"price_version": 1, "plan_version": 1},
        reason="forged",
    )  # fmt: skip
    app.store.append([forged])
    report = audit_history(app, checkpoints=store.checkpoints)
    assert report.problems == [
        f"usage acme/u1: its latest rating is cost {wrong.cost}, charge {wrong.charge} under plan scale, "
        f"the versions in force under plan pro, the customer's at its moment, give cost {first.cost}, "
        f"charge {first.charge}"
    ]
    assert report.awaiting_rerating == []


def test_a_batch_racing_a_change_is_rerated_by_the_settling_pass(
    database_url: str, no_settling_wait: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that read the customer before its change appends after the
    change's first pass: its usage from the change on, rated under the old
    plan, is re-rated by the settling pass."""
    writer, operator = open_services(database_url), open_services(database_url)
    try:
        seed(operator.app)
        operator.app.catalog.create_plan("scale", "default", SCALE_MARKUP, [])
        watcher = operator.app.version_watcher(SqlCheckpoints(operator.database))
        for _ in range(2):  # both passes of the versions, before anything else happens
            operator.follower.catch_up()
            watcher.step()
        writer.app.reference.refresh()  # the writer's reference data, read before the change
        operator.app.customers.update_customer("acme", None, "scale", None)  # at NOW, the clock of both
        operator.follower.catch_up()
        watcher.step()  # the change's first pass: nothing recorded since it
        monkeypatch.setattr(writer.app.reference, "refresh", lambda: None)  # the race: a stale batch appends now
        raced = event("raced", timestamp="2026-11-26T18:02:00Z")
        writer.app.metering.record_usage([raced])
        stale = writer.app.metering.find_usage("acme", "raced")
        assert stale is not None and stale.rating is not None and stale.rating.plan == "pro"
        operator.follower.catch_up()
        watcher.step()  # the settling pass
        usage = operator.app.metering.find_usage("acme", "raced")
        assert usage is not None and usage.rating is not None
        assert (usage.rating.plan, usage.rating.charge) == ("scale", charge(raced, SCALE_MARKUP))
    finally:
        writer.close()
        operator.close()


def test_a_change_stored_without_its_moment_takes_effect_at_its_own_timestamp(store: Store) -> None:
    """Changes recorded before the plan history was kept carry no
    effective_at: they are read as effective when recorded, on every replay."""
    app = store.services.app
    key = Customer.create_id("acme")
    version = app.store.repository.get(key).version
    state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-20T00:00:00+00:00"},
        "name": "Acme",
        "plan": "scale",
        "billing": "prepaid",
    }
    older = StoredEvent(
        originator_id=key,
        originator_version=version + 1,
        topic="domain.customer:Customer.Updated",
        state=json.dumps(state).encode(),
    )
    app.store.recorder.insert_events([older])
    app.reference.refresh()
    customer = app.reference.customers["acme"]
    assert customer.plan_changes == [(datetime(2026, 11, 20, tzinfo=UTC), "scale")]
    assert (customer.plan_at(datetime(2026, 11, 19, 23, tzinfo=UTC)), customer.plan_at(NOW)) == ("pro", "scale")
    app.metering.record_usage([event("before", timestamp="2026-11-19T12:00:00Z"), event("after")])
    assert latest(store, "acme", "before") == ("pro", charge(event("before"), Decimal(20)))
    assert latest(store, "acme", "after") == ("scale", charge(event("after"), SCALE_MARKUP))
    carry_out(store)
    assert_clean(store)


def test_simulating_nothing_new_after_a_change_differs_by_nothing(store: Store) -> None:
    app = store.services.app
    app.metering.record_usage([event("u1")])
    move(store, "acme", "scale", NOW)
    store.clock.now = NOW + timedelta(minutes=1)
    app.metering.record_usage([event("u2", timestamp="2026-11-26T18:00:30Z")])
    carry_out(store)
    result = app.simulations.simulate(
        "acme", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), None, None
    )
    assert result.events == 2
    assert result.actual.charge == charge(event("u1"), Decimal(20)) + charge(event("u2"), SCALE_MARKUP)
    assert result.difference == 0


def test_a_month_on_a_tiered_plan_keeps_its_ladder_after_the_customer_leaves_the_plan(store: Store) -> None:
    """October on a graduated ladder; in November acme moves to a plan
    without one. October, settled again or closed, keeps its ladder's
    difference, and late October usage is rated and settled on it."""
    app = store.services.app
    graduated = {"mode": "graduated", "tiers": [{"up_to": "0.05", "markup_percent": "30"},
                                                 {"up_to": "0.10", "markup_percent": "20"},
                                                 {"up_to": None, "markup_percent": "10"}]}  # fmt: skip
    app.catalog.create_plan("tiered", "default", Decimal(0), [], graduated)
    move(store, "acme", "tiered", datetime(2026, 9, 1, tzinfo=UTC))  # the clock of the day it moved
    store.clock.now = NOW
    app.metering.record_usage([event(f"t{i}", timestamp="2026-10-15T12:00:00Z") for i in range(20)])
    carry_out(store)
    october = TierSettlement.create_id("acme", "2026-10")
    # 20 × 0.0065 = 0.13 at 30 %, graduated: 0.05 × 30 % + 0.05 × 20 % + 0.03 × 10 % = 0.028
    assert app.store.repository.get(october).difference == Decimal("0.028") - Decimal("0.039")

    move(store, "acme", "pro", NOW)
    carry_out(store)
    assert "acme" in app.tiers.tiered_customers()
    assert app.tiers.settle_tiers("acme", "2026-10", close=True) is not None
    assert app.store.repository.get(october).difference == Decimal("0.028") - Decimal("0.039")
    app.metering.record_usage([event("t20", timestamp="2026-10-20T12:00:00Z")])
    assert latest(store, "acme", "t20") == ("tiered", (expected_charge(event("t20"))[0] * Decimal("1.3")))
    carry_out(store)
    # 0.1365 at 30 % = 0.04095; graduated: 0.015 + 0.010 + 0.0365 × 10 % = 0.02865
    assert app.store.repository.get(october).difference == Decimal("0.02865") - Decimal("0.04095")
    assert_clean(store)
