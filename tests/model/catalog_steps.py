"""Catalog steps: price and plan versions, backdated, forward or tied with
another version or a change of plan, some of them no longer pricing a model. The server answers
at once; the re-rating they cause follows asynchronously, so the model
widens what each usage's charge may show until the next agreement."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.model.rating_model import PlanVersion, PriceVersion
from tests.model.run_state import Run
from tests.model.workload import BASE_RATES, rate_rows, stamp

PRICE_BOOKS = {"default": "USD", "euro": "EUR", "premium": "USD"}
PLANS = {  # price book, markup, overrides
    "pro": ("default", Decimal("20"), {("openai", "gpt-4o-mini"): Decimal("50")}),
    "lite": ("default", Decimal("7.5"), {}),
    "scale": ("premium", Decimal("10"), {("anthropic", "claude-sonnet-4-5"): Decimal("0")}),
    "euro": ("euro", Decimal("15"), {("anthropic", "claude-sonnet-4-5"): Decimal("25")}),
    "euro-basic": ("euro", Decimal("40"), {}),
}
PUBLISHED_BOOKS = ("default", "default", "default", "premium", "premium", "euro")  # how often each gets a version


def publish_prices(run: Run) -> None:
    price_book = run.rng.choice(PUBLISHED_BOOKS)
    version, body = next_price_version(run, price_book)
    answer = run.session.post(f"/v1/price-books/{price_book}/versions", body)
    price_version_published(run, price_book, version, answer)


def next_price_version(run: Run, price_book: str) -> tuple[PriceVersion, dict[str, Any]]:
    """The next price version of a price book and its request body, not yet sent."""
    rates = run.workload.rates()
    if not rates:  # a version holds at least one rate
        rates = {("openai", "gpt-4o", unit): (Decimal(price), per) for unit, (price, per) in
                 BASE_RATES[("openai", "gpt-4o")].items()}  # fmt: skip
    effective = effective_from(run)
    body = {"effective_from": stamp(effective, run.rng), "rates": rate_rows(rates)}
    return PriceVersion(run.model.next_price_number(price_book), effective, rates), body


def price_version_published(run: Run, price_book: str, version: PriceVersion, answer: httpx.Response) -> None:
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == version.number, answer.json()
    run.model.publish_prices(price_book, version)
    run.boundaries.append(version.effective_from)
    run.quiet = False
    before = run.model.prices[price_book][-2].rates
    dropped = {(p, m) for p, m, _ in before} - {(p, m) for p, m, _ in version.rates}
    run.counts["price version dropping a model" if dropped else "price version"] += 1


def publish_plan(run: Run) -> None:
    plan = run.rng.choice(sorted(PLANS))
    effective = effective_from(run)
    markup, overrides = run.workload.markup(), run.workload.overrides()
    body = {
        "effective_from": stamp(effective, run.rng),
        "markup_percent": str(markup),
        "model_overrides": [
            {"provider": provider, "model": model, "markup_percent": str(percent)}
            for (provider, model), percent in sorted(overrides.items())
        ],
    }
    answer = run.session.post(f"/v1/plans/{plan}/versions", body)
    assert answer.status_code == 201, answer.text
    run.model.publish_plan(plan, PlanVersion(run.model.next_plan_number(plan), effective, markup, overrides))
    run.boundaries.append(effective)
    run.quiet = False


def effective_from(run: Run) -> datetime:
    moments = [usage.timestamp for usage in run.model.usage.values()]
    sample = run.rng.sample(moments, min(len(moments), 20))
    return run.workload.effective_from(run.boundaries, sorted(sample))
