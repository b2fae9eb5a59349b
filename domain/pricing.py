"""What the providers charge: rates, immutable price versions, and the rule
for which version is in force at a moment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.invariants import require
from domain.money import ZERO

UNITS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "requests",
        "images",
        "audio_seconds",
        "characters",
    }
)
MAX_RATES_PER_VERSION = 20_000


@dataclass(frozen=True)
class Rate:
    provider: str
    model: str
    unit: str
    price: Decimal
    per: int

    def __post_init__(self) -> None:
        require(self.unit in UNITS, self.unit)
        require(isinstance(self.price, Decimal) and self.price >= ZERO, self.price)
        require(self.per >= 1, self.per)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.provider, self.model, self.unit)

    def cost_of(self, quantity: int) -> Decimal:
        """Exact: the quotient of two decimals is rounded only by the caller."""
        return self.price * quantity / self.per

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "unit": self.unit,
            "price": self.price,
            "per": self.per,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rate:
        return cls(data["provider"], data["model"], data["unit"], Decimal(data["price"]), int(data["per"]))


@dataclass(frozen=True)
class PriceVersion:
    number: int
    effective_from: datetime
    rates: tuple[Rate, ...]
    source: str = "manual"
    _index: dict[tuple[str, str, str], Rate] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        require(self.number >= 1)
        require(self.effective_from.tzinfo is not None, "times carry an offset")
        for rate in self.rates:
            require(rate.key not in self._index, f"two rates for {rate.key}")
            self._index[rate.key] = rate

    def rate_for(self, provider: str, model: str, unit: str) -> Rate | None:
        return self._index.get((provider, model, unit))


def version_in_force(versions: Sequence[PriceVersion], at: datetime) -> PriceVersion | None:
    """The version with the latest effective_from at or before `at`; among equal
    effective_from, the one published last (the higher number)."""
    best: PriceVersion | None = None
    for version in versions:
        if version.effective_from > at:
            continue
        if best is None or (version.effective_from, version.number) > (
            best.effective_from,
            best.number,
        ):
            best = version
    return best


def duplicate_rate_keys(rates: Iterable[Rate]) -> list[tuple[str, str, str]]:
    seen: set[tuple[str, str, str]] = set()
    duplicates = []
    for rate in rates:
        if rate.key in seen:
            duplicates.append(rate.key)
        seen.add(rate.key)
    return duplicates
