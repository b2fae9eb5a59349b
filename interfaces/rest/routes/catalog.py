"""Price books, price versions, the catalog import, and plans."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from application.errors import NotFound
from interfaces import presenters
from interfaces.rest.auth import AdminDep
from interfaces.rest.dependencies import CatalogDep
from interfaces.rest.responses import PROBLEMS, PlanPublic, PriceBookPublic, PriceVersionPublic
from interfaces.rest.schemas import (
    Moment,
    PlanCreate,
    PlanVersionCreate,
    PriceBookCreate,
    PriceVersionCreate,
    Strict,
)
from interfaces.worker_threads import run_blocking

router = APIRouter(tags=["prices and plans"])


class CatalogImport(Strict):
    source: Literal["genai-prices"] = "genai-prices"
    providers: list[str] = Field(min_length=1, max_length=50)
    effective_from: Moment
    history_since: Moment | None = Field(
        default=None,
        description="Also publish one version per catalog price change since this moment (the catalog's history).",
    )


@router.post("/v1/price-books", status_code=201, response_model=PriceBookPublic, responses=PROBLEMS)
def create_price_book(body: PriceBookCreate, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
    return presenters.price_book(catalog.create_price_book(body.id, body.currency))


@router.get("/v1/price-books/{price_book_id}", response_model=PriceBookPublic, responses=PROBLEMS)
def get_price_book(price_book_id: str, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
    return presenters.price_book(catalog.price_book(price_book_id))


@router.post(
    "/v1/price-books/{price_book_id}/versions", status_code=201, response_model=PriceVersionPublic, responses=PROBLEMS
)
def publish_price_version(
    price_book_id: str, body: PriceVersionCreate, catalog: CatalogDep, _: AdminDep
) -> dict[str, Any]:
    rates = [rate.model_dump() for rate in body.rates]
    version = catalog.publish_price_version(price_book_id, body.effective_from, rates, "manual")
    return presenters.price_version(version)


@router.post(
    "/v1/price-books/{price_book_id}/import", status_code=201, response_model=PriceVersionPublic, responses=PROBLEMS
)
async def import_prices(price_book_id: str, body: CatalogImport, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
    versions = await run_blocking(
        catalog.import_prices, price_book_id, body.providers, body.effective_from, body.history_since
    )
    shown = presenters.price_version(versions[-1])
    shown["rates_count"] = len(shown.pop("rates"))
    shown["versions_published"] = [version.number for version in versions]
    return shown


@router.get("/v1/price-books/{price_book_id}/versions/{number}", response_model=PriceVersionPublic, responses=PROBLEMS)
def get_price_version(price_book_id: str, number: int, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
    book = catalog.price_book(price_book_id)
    if not 1 <= number <= len(book.versions):
        raise NotFound(f"price book {price_book_id!r} has no version {number}")
    return presenters.price_version(book.versions[number - 1])


@router.post("/v1/plans", status_code=201, response_model=PlanPublic, responses=PROBLEMS)
def create_plan(body: PlanCreate, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
    overrides = [o.model_dump() for o in body.model_overrides]
    tiers = body.tiers.model_dump() if body.tiers else None
    plan = catalog.create_plan(body.id, body.price_book, Decimal(body.markup_percent), overrides, tiers)
    return presenters.plan(plan)


@router.get("/v1/plans/{plan_id}", response_model=PlanPublic, responses=PROBLEMS)
def get_plan(plan_id: str, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
    return presenters.plan(catalog.plan(plan_id))


@router.post("/v1/plans/{plan_id}/versions", status_code=201, response_model=PlanPublic, responses=PROBLEMS)
def publish_plan_version(plan_id: str, body: PlanVersionCreate, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
    overrides = [o.model_dump() for o in body.model_overrides]
    tiers = body.tiers.model_dump() if body.tiers else None
    plan = catalog.publish_plan_version(plan_id, body.effective_from, Decimal(body.markup_percent), overrides, tiers)
    return presenters.plan(plan)
