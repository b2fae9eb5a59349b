"""The model price catalog: genai-prices, which ships its data inside the
package and so works offline. Only this adapter imports it.

Catalog keys map onto tally units: input_mtok → input_tokens (uncached
input), cache_read_mtok → cached_input_tokens, cache_write_mtok →
cache_write_tokens, output_mtok → output_tokens, all per million tokens;
requests_kcount → requests per thousand. A tiered catalog price (the whole
request at a higher rate past a context size) is imported at its base rate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from decimal import Decimal
from importlib.metadata import version
from typing import Any

from genai_prices import data_snapshot
from genai_prices.types import StartDateConstraint, TieredPrices

CATALOG_KEYS = {
    "input_mtok": ("input_tokens", 1_000_000),
    "output_mtok": ("output_tokens", 1_000_000),
    "cache_read_mtok": ("cached_input_tokens", 1_000_000),
    "cache_write_mtok": ("cache_write_tokens", 1_000_000),
    "requests_kcount": ("requests", 1_000),
}


def catalog_source() -> str:
    return f"genai-prices {version('genai-prices')}"


def known_providers() -> list[str]:
    return sorted(provider.id for provider in data_snapshot.get_snapshot().providers)


def catalog_rates(providers: Sequence[str], at: datetime) -> list[dict[str, Any]]:
    """Rates for every model of the given providers, as the catalog had them at `at`."""
    snapshot = data_snapshot.get_snapshot()
    wanted = set(providers)
    unknown = wanted - {provider.id for provider in snapshot.providers}
    if unknown:
        raise LookupError(f"unknown providers {sorted(unknown)}; the catalog has {known_providers()}")
    rates = []
    for provider in snapshot.providers:
        if provider.id not in wanted:
            continue
        for model in provider.models:
            prices = model.get_prices(at)
            for key, (unit, per) in CATALOG_KEYS.items():
                price = getattr(prices, key, None)
                if isinstance(price, TieredPrices):
                    price = price.base
                if isinstance(price, Decimal):
                    rates.append({"provider": provider.id, "model": model.id, "unit": unit, "price": price, "per": per})
    return rates


def catalog_change_dates(providers: Sequence[str], since: datetime, until: datetime) -> list[datetime]:
    """Start dates of the catalog's dated prices (midnight UTC), strictly
    between `since` and `until`. Time-of-day prices are not versions."""
    snapshot = data_snapshot.get_snapshot()
    wanted = set(providers)
    moments = set()
    for provider in snapshot.providers:
        if provider.id not in wanted:
            continue
        for model in provider.models:
            for conditional in model.prices if isinstance(model.prices, list) else []:
                if isinstance(conditional.constraint, StartDateConstraint):
                    moment = datetime.combine(conditional.constraint.start_date, time(0), tzinfo=UTC)
                    if since < moment < until:
                        moments.add(moment)
    return sorted(moments)


class GenaiPricesCatalog:
    """The PriceCatalog port, backed by genai-prices."""

    def source(self) -> str:
        return catalog_source()

    def rates(self, providers: Sequence[str], at: datetime) -> list[dict[str, Any]]:
        return catalog_rates(providers, at)

    def change_dates(self, providers: Sequence[str], since: datetime, until: datetime) -> list[datetime]:
        return catalog_change_dates(providers, since, until)
