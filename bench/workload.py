"""The workload: one price book, one plan, N prepaid customers with a grant,
and deterministic usage events spread over them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from application.tally import Tally

PRICE_BOOK = "bench-book"
PLAN = "bench-plan"
PROBE = "lag-probe"
GRANT = "1000000"
MODELS = [
    ("openai", "gpt-4o", "chat", "2.50", "10.00"),
    ("openai", "gpt-4o-mini", "autocomplete", "0.15", "0.60"),
    ("anthropic", "claude-sonnet-4-5", "agent", "3.00", "15.00"),
    ("google", "gemini-2.5-flash", "search", "0.30", "2.50"),
]
Event = dict[str, Any]
T = TypeVar("T")


def customer_id(index: int) -> str:
    return f"cust-{index:05d}"


def rates() -> list[dict[str, Any]]:
    rows = []
    for provider, model, _feature, input_price, output_price in MODELS:
        rows.append({"provider": provider, "model": model, "unit": "input_tokens", "price": input_price, "per": 10**6})
        rows.append(
            {"provider": provider, "model": model, "unit": "output_tokens", "price": output_price, "per": 10**6}
        )
    return rows


def seed(app: Tally, customers: int, *, probe: bool = False) -> None:
    app.catalog.create_price_book(PRICE_BOOK, "USD")
    app.catalog.publish_price_version(PRICE_BOOK, datetime(2020, 1, 1, tzinfo=UTC), rates(), "manual")
    app.catalog.create_plan(PLAN, PRICE_BOOK, Decimal("20"), [])
    ids = [customer_id(index) for index in range(customers)] + ([PROBE] if probe else [])
    for customer in ids:
        app.customers.create_customer(customer, f"Bench {customer}", "USD", PLAN, "prepaid", 30, None)
        app.wallets.top_up(customer, "grant", GRANT, "grant", None)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def usage_event(event_id: str, customer: str, moment: datetime, generator: random.Random) -> Event:
    provider, model, feature, _, _ = generator.choice(MODELS)
    return {
        "id": event_id,
        "customer": customer,
        "timestamp": timestamp(moment),
        "provider": provider,
        "model": model,
        "feature": feature,
        "usage": {"input_tokens": generator.randint(100, 8_000), "output_tokens": generator.randint(20, 2_000)},
    }


def usage_events(count: int, customers: int, prefix: str = "ev", seed_value: int = 7) -> list[Event]:
    """`count` events over `customers`, in the past (oldest first, 10 ms apart)."""
    generator = random.Random(seed_value)
    start = datetime.now(UTC) - timedelta(milliseconds=10 * count + 60_000)
    return [
        usage_event(
            f"{prefix}-{index:07d}",
            customer_id(generator.randrange(customers)),
            start + timedelta(milliseconds=10 * index),
            generator,
        )
        for index in range(count)
    ]


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]
