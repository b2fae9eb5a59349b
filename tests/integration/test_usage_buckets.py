"""Usage buckets: hourly and daily, by provider, model, feature and unit, with
quantities, cost and charge that add up to the ledger to the last decimal,
before and after a re-rating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from interfaces.bootstrap import Services
from tests.support import event, rates_json, seed

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def revenue(services: Services) -> Decimal:
    (usd,) = services.queries.trial_balance()
    return next(a.balance for a in usd.accounts if a.account == "revenue:usage")


def record(services: Services) -> list[dict]:  # type: ignore[type-arg]
    seed(services.app, ("acme",))
    bodies = []
    for i in range(24):
        moment = (START + timedelta(days=i % 3, hours=i % 5, minutes=i)).isoformat()
        model = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gpt-9")[i % 4]
        bodies.append(event(f"b{i}", model=model, timestamp=moment, input_tokens=1000 + 7 * i, output_tokens=3 * i + 1))
    services.app.metering.record_usage(bodies)
    services.follower.catch_up()
    return bodies


def test_buckets_add_up_to_the_ledger(services: Services) -> None:
    bodies = record(services)
    for granularity, dims in (("day", []), ("hour", ["model"]), ("day", ["provider", "model", "feature", "unit"])):
        buckets = services.queries.usage_buckets("acme", START, END, granularity, dims)
        assert sum((b.charge for b in buckets), Decimal(0)) == revenue(services)
        assert sum(q for b in buckets for u, q in b.quantities.items() if u == "input_tokens") == sum(
            body["usage"]["input_tokens"] for body in bodies
        )
    by_unit = services.queries.usage_buckets("acme", START, END, "day", ["model", "unit"])
    assert {(b.dimensions["model"], b.dimensions["unit"]) for b in by_unit if b.start.day == 1} >= {
        ("gpt-4o", "input_tokens"),
        ("gpt-4o", "output_tokens"),
    }
    unpriced = [b for b in by_unit if b.dimensions["model"] == "gpt-9"]
    assert unpriced and all(b.charge == 0 and b.cost == 0 for b in unpriced)
    hours = services.queries.usage_buckets("acme", START, START + timedelta(days=1), "hour", [])
    assert [b.start.hour for b in hours] == sorted(
        {(i % 5) for i in range(0, 24, 3)} | {(i % 5) for i in range(24) if i % 3 == 0}
    )


def test_buckets_follow_a_rerating(services: Services) -> None:
    record(services)
    cheaper = [{**r, "price": str(Decimal(r["price"]) / 4)} for r in rates_json()]
    cheaper.append({"provider": "openai", "model": "gpt-9", "unit": "input_tokens", "price": "1", "per": 1_000_000})
    cheaper.append({"provider": "openai", "model": "gpt-9", "unit": "output_tokens", "price": "1", "per": 1_000_000})
    services.app.catalog.publish_price_version("default", START, cheaper, "manual")
    services.follower.catch_up()
    services.app.rerating.rerate(price_book="default", since=START, reason="test")
    services.follower.catch_up()
    buckets = services.queries.usage_buckets("acme", START, END, "day", ["model", "unit"])
    assert sum((b.charge for b in buckets), Decimal(0)) == revenue(services)
    assert all(b.charge > 0 for b in buckets if b.dimensions["model"] == "gpt-9")
