"""Price books and plans: publish versioned prices and markups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application import validation
from application.errors import Conflict, NotFound, ValidationFailed
from application.event_store import EventStore
from application.ports import PriceCatalog
from application.reference import ReferenceData
from domain.catalog import Plan, PriceBook
from domain.identifiers import is_caller_id
from domain.money import ZERO
from domain.plans import TIER_MODES, ModelOverride, Tier, Tiers
from domain.pricing import MAX_RATES_PER_VERSION, UNITS, PriceVersion, Rate, duplicate_rate_keys

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


class Catalog:
    def __init__(self, store: EventStore, reference: ReferenceData, price_catalog: PriceCatalog) -> None:
        self.store = store
        self.reference = reference
        self.price_catalog = price_catalog

    def create_price_book(self, price_book_id: str, currency: str) -> PriceBook:
        book = PriceBook(validation.caller_id(price_book_id, "id"), validation.currency(currency))
        try:
            self.store.save(book)
        except IntegrityError:
            raise Conflict(f"price book {price_book_id!r} already exists") from None
        return book

    def price_book(self, price_book_id: str) -> PriceBook:
        if not is_caller_id(price_book_id):
            raise NotFound(f"price book {price_book_id!r} does not exist")
        try:
            return self.store.repository.get(PriceBook.create_id(price_book_id))
        except AggregateNotFoundError:
            raise NotFound(f"price book {price_book_id!r} does not exist") from None

    def publish_price_version(
        self, price_book_id: str, effective_from: datetime, rates: Sequence[Mapping[str, Any]], source: str
    ) -> PriceVersion:
        parsed = parse_rates(rates)
        validation.aware(effective_from, "effective_from")

        def publish() -> PriceVersion:  # again when another publisher took this number: number the next
            book = self.price_book(price_book_id)
            version = book.publish_next(effective_from, parsed, source)
            self.store.save(book)
            return version

        return self.store.retrying(publish, f"price book {price_book_id!r}")

    def import_prices(
        self,
        price_book_id: str,
        providers: Sequence[str],
        effective_from: datetime,
        history_since: datetime | None = None,
    ) -> list[PriceVersion]:
        """Publish a version built from the model price catalog as it stood at
        `effective_from`; with `history_since`, first one version for each
        moment the catalog's prices changed between then and `effective_from`,
        so usage in the past is rated at the price the catalog had then."""
        if not providers:
            raise ValidationFailed("name at least one provider", [{"loc": "providers", "msg": "empty"}])
        validation.aware(effective_from, "effective_from")
        moments = [effective_from]
        try:
            if history_since is not None:
                validation.aware(history_since, "history_since")
                if not history_since < effective_from:
                    raise ValidationFailed(
                        "history_since must be before effective_from", [{"loc": "history_since", "msg": "order"}]
                    )
                changes = self.price_catalog.change_dates(providers, history_since, effective_from)
                moments = [history_since, *changes, effective_from]
            tables = [(moment, self.price_catalog.rates(providers, moment)) for moment in moments]
        except LookupError as error:
            raise ValidationFailed(str(error), [{"loc": "providers", "msg": "unknown provider"}]) from None
        source = self.price_catalog.source()
        return [self.publish_price_version(price_book_id, moment, rates, source) for moment, rates in tables]

    def price_source(self, price_book_id: str, number: int) -> str | None:
        """Where a price version came from: `manual`, or the catalog and its version."""
        self.reference.refresh()
        book = self.reference.price_books.get(price_book_id)
        if book is None or not 0 < number <= len(book.versions):
            return None
        return book.versions[number - 1].source

    def create_plan(
        self,
        plan_id: str,
        price_book: str,
        markup_percent: Decimal,
        model_overrides: Sequence[Mapping[str, Any]],
        tiers: Mapping[str, Any] | None = None,
    ) -> Plan:
        self.price_book(price_book)
        plan = Plan(validation.caller_id(plan_id, "id"), price_book)
        plan.publish_next(
            BEGINNING,
            parse_markup(markup_percent, "markup_percent"),
            parse_overrides(model_overrides),
            parse_tiers(tiers),
        )
        try:
            self.store.save(plan)
        except IntegrityError:
            raise Conflict(f"plan {plan_id!r} already exists") from None
        return plan

    def plan(self, plan_id: str) -> Plan:
        if not is_caller_id(plan_id):
            raise NotFound(f"plan {plan_id!r} does not exist")
        try:
            return self.store.repository.get(Plan.create_id(plan_id))
        except AggregateNotFoundError:
            raise NotFound(f"plan {plan_id!r} does not exist") from None

    def publish_plan_version(
        self,
        plan_id: str,
        effective_from: datetime,
        markup_percent: Decimal,
        model_overrides: Sequence[Mapping[str, Any]],
        tiers: Mapping[str, Any] | None = None,
    ) -> Plan:
        markup = parse_markup(markup_percent, "markup_percent")
        overrides = parse_overrides(model_overrides)
        ladder = parse_tiers(tiers)
        validation.aware(effective_from, "effective_from")
        return self.store.change(
            lambda: self.plan(plan_id),
            lambda plan: plan.publish_next(effective_from, markup, overrides, ladder),
            f"plan {plan_id!r}",
        )


def parse_rates(rates: Sequence[Mapping[str, Any]]) -> list[Rate]:
    if not rates or len(rates) > MAX_RATES_PER_VERSION:
        raise ValidationFailed(f"a version has 1 to {MAX_RATES_PER_VERSION} rates", [{"loc": "rates", "msg": "count"}])
    parsed = []
    for index, rate in enumerate(rates):
        loc = f"rates.{index}"
        if rate["unit"] not in UNITS:
            raise ValidationFailed(
                f"{loc}.unit: unknown unit {rate['unit']!r}; known units: {', '.join(sorted(UNITS))}",
                [{"loc": f"{loc}.unit", "msg": "unknown unit"}],
            )
        price = validation.amount(rate["price"], f"{loc}.price")
        parsed.append(Rate(rate["provider"], rate["model"], rate["unit"], price, int(rate["per"])))
    duplicates = duplicate_rate_keys(parsed)
    if duplicates:
        raise ValidationFailed(f"two rates for {duplicates[0]}", [{"loc": "rates", "msg": "duplicate rate"}])
    return parsed


def parse_markup(value: Decimal | str, loc: str) -> Decimal:
    markup = validation.amount(value, loc)
    if markup > Decimal(100_000):
        raise ValidationFailed(f"{loc} must be at most 100000", [{"loc": loc, "msg": "out of range"}])
    return markup


def parse_overrides(overrides: Sequence[Mapping[str, Any]]) -> list[ModelOverride]:
    parsed = [
        ModelOverride(
            o["provider"], o["model"], parse_markup(o["markup_percent"], f"model_overrides.{i}.markup_percent")
        )
        for i, o in enumerate(overrides)
    ]
    if len({(o.provider, o.model) for o in parsed}) != len(parsed):
        raise ValidationFailed("two overrides for one model", [{"loc": "model_overrides", "msg": "duplicate"}])
    return parsed


MAX_TIERS = 50


def parse_tiers(tiers: Mapping[str, Any] | None) -> Tiers | None:
    """A ladder of 1 to 50 tiers whose ends rise, the last without an end."""
    if tiers is None:
        return None
    if tiers.get("mode") not in TIER_MODES:
        raise ValidationFailed("tiers.mode is graduated or volume", [{"loc": "tiers.mode", "msg": "unknown mode"}])
    rows = tiers.get("tiers") or []
    if not 0 < len(rows) <= MAX_TIERS:
        raise ValidationFailed(f"a ladder has 1 to {MAX_TIERS} tiers", [{"loc": "tiers.tiers", "msg": "count"}])
    ladder, floor = [], ZERO
    for index, row in enumerate(rows):
        loc = f"tiers.tiers.{index}"
        last = index == len(rows) - 1
        up_to = None if row.get("up_to") is None else validation.amount(row["up_to"], f"{loc}.up_to")
        if last and up_to is not None:
            raise ValidationFailed(f"{loc}.up_to: the last tier has no end (null)", [{"loc": loc, "msg": "bounded"}])
        if not last and (up_to is None or up_to <= floor):
            raise ValidationFailed(
                f"{loc}.up_to: every tier but the last ends above the one before it",
                [{"loc": f"{loc}.up_to", "msg": "not rising"}],
            )
        ladder.append(Tier(up_to, parse_markup(row["markup_percent"], f"{loc}.markup_percent")))
        floor = up_to if up_to is not None else floor
    return Tiers(str(tiers["mode"]), tuple(ladder))
