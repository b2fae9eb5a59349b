"""A customer's plan history: which plan was in force at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.customer import Customer

START = datetime(2026, 11, 1, tzinfo=UTC)


def registered() -> Customer:
    return Customer("acme", "Acme", "USD", "pro", "prepaid", 30, None)


def test_before_any_change_and_before_registration_the_registered_plan_is_in_force() -> None:
    customer = registered()
    assert customer.plan_at(START - timedelta(days=400)) == "pro"
    customer.change("Acme", "scale", "prepaid", START)
    assert customer.plan_at(START - timedelta(microseconds=1)) == "pro"
    assert customer.plan_at(START) == "scale"  # a change is in force from its very moment
    assert customer.plan == "scale"


def test_each_change_holds_until_the_next() -> None:
    customer = registered()
    customer.change("Acme", "scale", "prepaid", START)
    customer.change("Acme", "pro", "prepaid", START + timedelta(days=2))
    customer.change("Acme", "enterprise", "prepaid", START + timedelta(days=5))
    moments = [START + timedelta(days=day) for day in (-1, 0, 1, 2, 4, 5, 30)]
    assert [customer.plan_at(moment) for moment in moments] == [
        "pro", "scale", "scale", "pro", "pro", "enterprise", "enterprise",
    ]  # fmt: skip
    assert customer.plans_since(START + timedelta(days=3)) == {"pro", "enterprise"}
    assert customer.plans_held() == {"pro", "scale", "enterprise"}


def test_a_change_made_on_a_clock_behind_the_last_takes_effect_with_it_and_wins() -> None:
    """Two hosts' clocks disagree: the plan as last set is still the plan of
    every moment from then on."""
    customer = registered()
    customer.change("Acme", "scale", "prepaid", START + timedelta(seconds=5))
    customer.change("Acme", "enterprise", "prepaid", START)
    assert customer.plan_changes[-1] == (START + timedelta(seconds=5), "enterprise")
    assert customer.plan_at(START + timedelta(seconds=5)) == "enterprise"
    assert customer.plan_at(START + timedelta(days=1)) == customer.plan == "enterprise"


def test_a_change_of_name_or_billing_alone_leaves_the_plan_history_as_it_was() -> None:
    customer = registered()
    customer.change("Acme AI", "pro", "postpaid", START)
    assert customer.plan_changes == []
    assert (customer.name, customer.billing, customer.plan_at(START + timedelta(days=1))) == (
        "Acme AI", "postpaid", "pro",
    )  # fmt: skip


def test_the_history_replays_identically_from_the_events() -> None:
    customer = registered()
    customer.change("Acme", "scale", "prepaid", START)
    customer.change("Acme", "pro", "invoice", START + timedelta(hours=1))
    replayed = None
    for stored in customer.collect_events():
        replayed = stored.mutate(replayed)
    assert isinstance(replayed, Customer)
    assert replayed.plan_changes == customer.plan_changes
    assert replayed.registered_plan == "pro" and replayed.plan == "pro"
