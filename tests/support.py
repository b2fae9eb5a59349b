"""Shared test data: a price book with known rates, a plan, customers, and
an independent computation of what a usage event must cost."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import psycopg

from application.authorizations import SWEEP_AT
from application.tally import Tally

if TYPE_CHECKING:
    from interfaces.bootstrap import Services

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
ADMIN_KEY = "test-admin-key"
POSTGRES_URL = os.environ.get("TALLY_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
RATES = [
    ("openai", "gpt-4o", "input_tokens", "2.50", 1_000_000),
    ("openai", "gpt-4o", "output_tokens", "10", 1_000_000),
    ("openai", "gpt-4o", "cached_input_tokens", "1.25", 1_000_000),
    ("openai", "gpt-4o-mini", "input_tokens", "0.15", 1_000_000),
    ("openai", "gpt-4o-mini", "output_tokens", "0.60", 1_000_000),
    ("anthropic", "claude-sonnet-4-5", "input_tokens", "3", 1_000_000),
    ("anthropic", "claude-sonnet-4-5", "output_tokens", "15", 1_000_000),
    ("openai", "dall-e-3", "images", "0.04", 1),
]
MARKUP = Decimal("20")
OVERRIDES = {("openai", "gpt-4o-mini"): Decimal("50")}
Q12 = Decimal("0.000000000001")


def rates_json() -> list[dict[str, Any]]:
    return [{"provider": p, "model": m, "unit": u, "price": price, "per": per} for p, m, u, price, per in RATES]


def seed(app: Tally, customers: tuple[str, ...] = ("acme", "globex"), grant: str = "100") -> None:
    app.catalog.create_price_book("default", "USD")
    app.catalog.publish_price_version("default", datetime(2026, 1, 1, tzinfo=UTC), rates_json(), "manual")
    app.catalog.create_plan(
        "pro", "default", MARKUP, [{"provider": "openai", "model": "gpt-4o-mini", "markup_percent": "50"}]
    )
    for customer in customers:
        app.customers.create_customer(customer, customer.title(), "USD", "pro", "prepaid", 30, None)
        app.wallets.top_up(customer, "welcome", grant, "grant", None)


def event(
    event_id: str, customer: str = "acme", model: str = "gpt-4o", timestamp: str = "2026-11-26T17:00:01Z", **usage: int
) -> dict[str, Any]:
    provider = "anthropic" if model.startswith("claude") else "openai"
    return {
        "id": event_id,
        "customer": customer,
        "timestamp": timestamp,
        "provider": provider,
        "model": model,
        "feature": "chat",
        "usage": usage or {"input_tokens": 1200, "output_tokens": 350},
    }


def just_now() -> str:
    """For tests against a server on the wall clock: a moment in its current
    period (a second ago, but never before the month began)."""
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(seconds=1), month_start).isoformat()


def days_around_now() -> tuple[str, str]:
    """A usage range, as GraphQL takes it, that holds the days around now and
    the current period's start: where a test's usage is, whatever the date."""
    now = datetime.now(UTC)
    start = min(now - timedelta(days=1), now.replace(day=1))
    return start.strftime("%Y-%m-%dT00:00:00Z"), (now + timedelta(days=2)).strftime("%Y-%m-%dT00:00:00Z")


def expected_charge(
    body: dict[str, Any], rates: Sequence[tuple[str, str, str, str, int]] | None = None
) -> tuple[Decimal, Decimal]:
    """(cost, charge) computed here, independently of domain/rating.py; at
    RATES, or at the `rates` a test published instead."""
    table = {(p, m, u): Decimal(price) / per for p, m, u, price, per in (RATES if rates is None else rates)}
    cost = Decimal(0)
    for unit, quantity in body["usage"].items():
        if quantity:
            line = Decimal(quantity) * table[(body["provider"], body["model"], unit)]
            cost += line.quantize(Q12, rounding=ROUND_HALF_EVEN)
    markup = OVERRIDES.get((body["provider"], body["model"]), MARKUP)
    charge = (cost + cost * markup / 100).quantize(Q12, rounding=ROUND_HALF_EVEN)
    return cost, charge


def postgres_schema_url() -> Iterator[str]:
    schema = "t_" + uuid.uuid4().hex[:16]
    yield f"{POSTGRES_URL}?schema={schema}"
    conninfo = POSTGRES_URL.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def gateway_day(services: Services) -> None:
    """Holds opened, placed, captured by usage, swept, voided and released."""
    seed(services.app, customers=("acme",), grant="100.00")
    services.follower.catch_up()
    authorizations = services.app.authorizations
    for number in range(SWEEP_AT + 2):
        assert authorizations.authorize(f"h{number}", "acme", "0.01", None, 600)[0].approved
    usage = [{**event(f"u{number}"), "authorization_id": f"h{number}"} for number in range(SWEEP_AT + 1)]
    services.app.metering.record_usage(usage)
    services.follower.catch_up()
    assert authorizations.authorize("after", "acme", "0.01", None, 600)[0].approved  # sweeps the captured
    authorizations.void_authorization(f"h{SWEEP_AT + 1}")  # not captured: released
