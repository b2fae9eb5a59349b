"""What-if on recorded usage: the actual totals equal the ledger, a candidate
price or plan re-rates every event, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from application.errors import NotFound, ValidationFailed
from interfaces.bootstrap import Services
from tests.support import Q12, event, expected_charge, rates_json, seed

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def recorded(services: Services) -> list[dict]:  # type: ignore[type-arg]
    seed(services.app)
    bodies = [event(f"a{i}", model=("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5")[i % 3]) for i in range(30)]
    bodies += [
        event("g1", customer="globex"),
        event("u1", model="gpt-9"),
        {**event("old"), "timestamp": "2026-10-31T23:59:59Z"},
    ]
    services.app.metering.record_usage(bodies)
    services.follower.catch_up()
    return bodies


def test_without_a_candidate_the_simulation_equals_what_was_rated(services: Services) -> None:
    bodies = recorded(services)
    result = services.app.simulations.simulate("acme", START, END, None, None)
    in_period = [b for b in bodies if b["customer"] == "acme" and b["id"] != "old" and b["model"] != "gpt-9"]
    assert result.events == len(in_period) + 1  # the unpriced event counts, at zero
    assert result.actual.charge == result.simulated.charge == sum(expected_charge(b)[1] for b in in_period)
    assert result.actual.cost == result.simulated.cost == sum(expected_charge(b)[0] for b in in_period)
    assert result.difference == 0
    assert services.queries.period_summary("acme", START, END, START).spend == result.actual.charge


def test_a_candidate_price_cut_rerates_from_its_effective_moment(services: Services) -> None:
    bodies = recorded(services)
    halved = [
        {**rate, "price": str(Decimal(rate["price"]) / 2)} if rate["model"] == "gpt-4o" else rate
        for rate in rates_json()
    ]
    head = services.app.store.recorder.max_notification_id()
    result = services.app.simulations.simulate(None, START, END, {"effective_from": START, "rates": halved}, None)
    assert services.app.store.recorder.max_notification_id() == head, "a simulation writes nothing"
    gpt4o = [b for b in bodies if b["model"] == "gpt-4o" and b["id"] != "old"]
    saving = sum(expected_charge(b)[1] for b in gpt4o) - sum(
        (expected_charge(b)[0] / 2 * Decimal("1.2")).quantize(Q12, ROUND_HALF_EVEN) for b in gpt4o
    )
    assert result.difference == -saving
    rows = {(p, m): (a, s) for (p, m), (a, s) in result.by_model.items()}
    assert rows[("openai", "gpt-4o-mini")][0].charge == rows[("openai", "gpt-4o-mini")][1].charge
    assert rows[("openai", "gpt-4o")][1].cost * 2 == rows[("openai", "gpt-4o")][0].cost


def test_a_candidate_plan_changes_the_markup_only(services: Services) -> None:
    bodies = recorded(services)
    result = services.app.simulations.simulate(
        "acme", START, END, None, {"markup_percent": "50", "model_overrides": []}
    )
    priced = [b for b in bodies if b["customer"] == "acme" and b["id"] != "old" and b["model"] != "gpt-9"]
    assert result.simulated.cost == result.actual.cost
    assert result.simulated.charge == sum(
        (expected_charge(b)[0] * Decimal("1.5")).quantize(Q12, ROUND_HALF_EVEN) for b in priced
    )


def test_bad_simulations_are_refused(services: Services) -> None:
    recorded(services)
    with pytest.raises(ValidationFailed, match="before"):
        services.app.simulations.simulate("acme", END, START, None, None)
    with pytest.raises(NotFound):
        services.app.simulations.simulate("nobody", START, END, None, None)
    with pytest.raises(ValidationFailed, match="ladder has 1 to 50 tiers"):
        services.app.simulations.simulate("acme", START, END, None, {"tiers": {"mode": "volume"}})
    with pytest.raises(ValidationFailed, match="unknown unit"):
        services.app.simulations.simulate(
            "acme",
            START,
            END,
            {"effective_from": START, "rates": [{"provider": "a", "model": "b", "unit": "x", "price": "1", "per": 1}]},
            None,
        )
