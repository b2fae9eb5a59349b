"""What the operator charges on top of provider cost: a markup, with
per-model overrides. Plan versions take effect like price versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

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
class PlanVersion:
    number: int
    effective_from: datetime
    markup_percent: Decimal
    model_overrides: tuple[ModelOverride, ...] = ()
    _overrides: dict[tuple[str, str], Decimal] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        assert self.number >= 1
        assert self.effective_from.tzinfo is not None, "times carry an offset"
        assert_markup(self.markup_percent)
        for override in self.model_overrides:
            assert_markup(override.markup_percent)
            key = (override.provider, override.model)
            assert key not in self._overrides, f"two overrides for {key}"
            self._overrides[key] = override.markup_percent

    def markup_for(self, provider: str, model: str) -> Decimal:
        return self._overrides.get((provider, model), self.markup_percent)


def assert_markup(markup_percent: Decimal) -> None:
    assert isinstance(markup_percent, Decimal), "a markup is Decimal"
    assert ZERO <= markup_percent <= MAX_MARKUP_PERCENT, markup_percent


def plan_in_force(versions: list[PlanVersion], at: datetime) -> PlanVersion | None:
    best: PlanVersion | None = None
    for version in versions:
        if version.effective_from <= at and (
            best is None or (version.effective_from, version.number) > (best.effective_from, best.number)
        ):
            best = version
    return best
