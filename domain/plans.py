"""What the operator charges on top of provider cost: a markup, or a ladder
of tiers on the month-to-date cost, with per-model overrides. Plan versions
take effect like price versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.invariants import require
from domain.money import ZERO

MAX_MARKUP_PERCENT = Decimal(100_000)


@dataclass(frozen=True)
class ModelOverride:
    provider: str
    model: str
    markup_percent: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "markup_percent": self.markup_percent}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelOverride:
        return cls(data["provider"], data["model"], Decimal(data["markup_percent"]))


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # month-to-date provider cost at which the tier ends (inclusive); None: no end
    markup_percent: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {"up_to": None if self.up_to is None else str(self.up_to), "markup_percent": str(self.markup_percent)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tier:
        up_to = data["up_to"]
        return cls(None if up_to is None else Decimal(up_to), Decimal(data["markup_percent"]))


TIER_MODES = ("graduated", "volume")


@dataclass(frozen=True)
class Tiers:
    """A markup ladder on the customer's month-to-date provider cost.
    `graduated`: each part of the cost at its tier's markup. `volume`: the
    whole month at the markup of the tier finally reached."""

    mode: str
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        require(self.mode in TIER_MODES, self.mode)
        require(self.tiers and self.tiers[-1].up_to is None, "the last tier has no end")
        ends = [tier.up_to for tier in self.tiers[:-1]]
        require(all(end is not None and end > ZERO for end in ends), "tiers end at a positive cost")
        require(ends == sorted(ends) and len(set(ends)) == len(ends), "tier ends rise")  # type: ignore[type-var]
        for tier in self.tiers:
            assert_markup(tier.markup_percent)

    @property
    def first_markup(self) -> Decimal:
        return self.tiers[0].markup_percent

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "tiers": [tier.as_dict() for tier in self.tiers]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tiers:
        return cls(data["mode"], tuple(Tier.from_dict(tier) for tier in data["tiers"]))


@dataclass(frozen=True)
class PlanVersion:
    number: int
    effective_from: datetime
    markup_percent: Decimal
    model_overrides: tuple[ModelOverride, ...] = ()
    tiers: Tiers | None = None
    _overrides: dict[tuple[str, str], Decimal] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        require(self.number >= 1)
        require(self.effective_from.tzinfo is not None, "times carry an offset")
        assert_markup(self.markup_percent)
        for override in self.model_overrides:
            assert_markup(override.markup_percent)
            key = (override.provider, override.model)
            require(key not in self._overrides, f"two overrides for {key}")
            self._overrides[key] = override.markup_percent

    def markup_for(self, provider: str, model: str) -> Decimal:
        """An override wins; on a tiered plan the rest is rated at the first
        tier as it is recorded, and the tier settlement posts the difference
        the ladder makes (see domain/tier_settlement.py)."""
        found = self._overrides.get((provider, model))
        if found is not None:
            return found
        return self.tiers.first_markup if self.tiers else self.markup_percent

    def is_tiered(self, provider: str, model: str) -> bool:
        """Whether this model's cost counts toward the tier ladder: every
        model's does except an overridden one's (its override replaces the
        plan's markup, tiers included)."""
        return self.tiers is not None and (provider, model) not in self._overrides


def assert_markup(markup_percent: Decimal) -> None:
    require(isinstance(markup_percent, Decimal), "a markup is Decimal")
    require(ZERO <= markup_percent <= MAX_MARKUP_PERCENT, markup_percent)


def plan_in_force(versions: list[PlanVersion], at: datetime) -> PlanVersion | None:
    best: PlanVersion | None = None
    for version in versions:
        if version.effective_from <= at and (
            best is None or (version.effective_from, version.number) > (best.effective_from, best.number)
        ):
            best = version
    return best
