"""The imported catalog rates usage to the last decimal of the catalog's own
calculation (genai-prices' calc_price), now and at its historic prices.

The catalog counts cache reads and writes inside input_tokens; tally's
input_tokens are the uncached input, so the catalog is asked about
input + cached + cache writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage as CatalogUsage
from genai_prices import calc_price, data_snapshot
from genai_prices.types import TieredPrices

from domain.plans import PlanVersion
from domain.pricing import PriceVersion, Rate, version_in_force
from domain.rating import Chargeable, rate
from infrastructure.price_catalog import catalog_change_dates, catalog_rates
from interfaces.bootstrap import Services

PROVIDERS = ["openai", "anthropic", "google"]
MOMENT = datetime(2026, 11, 1, tzinfo=UTC)
KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "requests_kcount")


def plain_models(at: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """Models whose token prices at `at` are flat (not tiered by context size)."""
    found = []
    for provider in data_snapshot.get_snapshot().providers:
        if provider.id not in PROVIDERS:
            continue
        for model in provider.models:
            prices = model.get_prices(at)
            values = {key: getattr(prices, key, None) for key in KEYS}
            if values["input_mtok"] is None or values["output_mtok"] is None:
                continue
            if any(isinstance(value, TieredPrices) for value in values.values()):
                continue
            if not model.is_match(model.id):  # ids like "ft:gpt-4o" name a pattern, not a model
                continue
            found.append((provider.id, model.id, values))
    return found


def catalog_cost(provider: str, model: str, usage: dict[str, int], at: datetime) -> Decimal:
    asked = CatalogUsage(
        input_tokens=usage["input_tokens"] + usage.get("cached_input_tokens", 0) + usage.get("cache_write_tokens", 0),
        cache_read_tokens=usage.get("cached_input_tokens", 0),
        cache_write_tokens=usage.get("cache_write_tokens", 0),
        output_tokens=usage["output_tokens"],
    )
    return calc_price(asked, model, provider_id=provider, genai_request_timestamp=at).total_price


def tally_cost(version: PriceVersion, provider: str, model: str, usage: dict[str, int]) -> Decimal:
    item = Chargeable("acme", "prepaid", "USD", provider, model, usage)
    return rate(item, "catalog", version, "plan", PlanVersion(1, MOMENT, Decimal(0))).cost


def random_usage(generator: random.Random, prices: dict[str, Any]) -> dict[str, int]:
    usage = {"input_tokens": generator.randint(0, 120_000), "output_tokens": generator.randint(0, 20_000)}
    if prices["cache_read_mtok"] is not None:
        usage["cached_input_tokens"] = generator.randint(0, 50_000)
    if prices["cache_write_mtok"] is not None:
        usage["cache_write_tokens"] = generator.randint(0, 10_000)
    if prices["requests_kcount"] is not None:
        usage["requests"] = 1  # the catalog prices each calculation as one request
    return usage


def test_the_catalog_has_hundreds_of_priced_models() -> None:
    rates = catalog_rates(PROVIDERS, MOMENT)
    models = {(r["provider"], r["model"]) for r in rates}
    units = {r["unit"] for r in rates}
    assert len(models) > 150
    assert {"input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens"} <= units


def test_imported_rates_match_the_catalogs_own_calculation() -> None:
    version = PriceVersion(1, MOMENT, tuple(Rate.from_dict(r) for r in catalog_rates(PROVIDERS, MOMENT)))
    models = plain_models(MOMENT)
    generator = random.Random(20261101)
    sample = generator.sample(models, min(60, len(models)))
    for provider, model, prices in sample:
        for _ in range(3):
            usage = random_usage(generator, prices)
            assert tally_cost(version, provider, model, usage) == catalog_cost(provider, model, usage, MOMENT), (
                provider,
                model,
                usage,
            )


def test_history_import_rates_past_usage_at_the_price_the_catalog_had_then(services: Services) -> None:
    since = datetime(2025, 1, 1, tzinfo=UTC)
    changes = catalog_change_dates(PROVIDERS, since, MOMENT)
    assert changes, "the catalog carries dated prices"
    services.app.catalog.create_price_book("catalog", "USD")
    versions = services.app.catalog.import_prices("catalog", PROVIDERS, MOMENT, history_since=since)
    assert [v.effective_from for v in versions] == [since, *changes, MOMENT]
    book = services.app.catalog.price_book("catalog")
    generator = random.Random(7)
    checked = 0
    for change in changes:
        for moment in (change - timedelta(hours=1), change + timedelta(hours=1)):
            in_force = version_in_force(book.versions, moment)
            assert in_force is not None
            for provider, model, prices in generator.sample(plain_models(moment), 5):
                usage = random_usage(generator, prices)
                if in_force.rate_for(provider, model, "input_tokens") is None:
                    continue
                assert tally_cost(in_force, provider, model, usage) == catalog_cost(provider, model, usage, moment)
                checked += 1
    assert checked >= 10


def test_unknown_providers_are_refused(services: Services) -> None:
    from application.errors import ValidationFailed

    services.app.catalog.create_price_book("catalog", "USD")
    with pytest.raises(ValidationFailed, match="unknown providers"):
        services.app.catalog.import_prices("catalog", ["nope"], MOMENT)
