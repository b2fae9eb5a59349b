"""The PriceBook and Plan aggregates: versioned, append-only price tables
and markups. A version is immutable once published."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identifiers import aggregate_id
from domain.invariants import require
from domain.plans import ModelOverride, PlanVersion, Tiers
from domain.pricing import PriceVersion, Rate


class PriceBook(Aggregate):
    @staticmethod
    def create_id(price_book_id: str) -> UUID:
        return aggregate_id("price-book", price_book_id)

    @event("Created")
    def __init__(self, price_book_id: str, currency: str) -> None:
        self.price_book_id = price_book_id
        self.currency = currency
        self.versions: list[PriceVersion] = []

    @event("VersionPublished")
    def publish(self, number: int, effective_from: datetime, rates: list[dict[str, Any]], source: str) -> None:
        require(number == len(self.versions) + 1, "versions are numbered in order")
        self.versions.append(PriceVersion(number, effective_from, tuple(Rate.from_dict(r) for r in rates), source))

    def publish_next(self, effective_from: datetime, rates: list[Rate], source: str) -> PriceVersion:
        self.publish(len(self.versions) + 1, effective_from, [r.as_dict() for r in rates], source)
        return self.versions[-1]


class Plan(Aggregate):
    @staticmethod
    def create_id(plan_id: str) -> UUID:
        return aggregate_id("plan", plan_id)

    @event("Created")
    def __init__(self, plan_id: str, price_book: str) -> None:
        self.plan_id = plan_id
        self.price_book = price_book
        self.versions: list[PlanVersion] = []

    @event("VersionPublished")
    def publish(
        self,
        number: int,
        effective_from: datetime,
        markup_percent: Decimal,
        model_overrides: list[dict[str, Any]],
        tiers: dict[str, Any] | None = None,
    ) -> None:
        require(number == len(self.versions) + 1, "versions are numbered in order")
        overrides = tuple(ModelOverride.from_dict(o) for o in model_overrides)
        ladder = Tiers.from_dict(tiers) if tiers else None
        self.versions.append(PlanVersion(number, effective_from, markup_percent, overrides, ladder))

    def publish_next(
        self,
        effective_from: datetime,
        markup_percent: Decimal,
        overrides: list[ModelOverride],
        tiers: Tiers | None = None,
    ) -> PlanVersion:
        self.publish(
            len(self.versions) + 1,
            effective_from,
            markup_percent,
            [o.as_dict() for o in overrides],
            tiers.as_dict() if tiers else None,
        )
        return self.versions[-1]
