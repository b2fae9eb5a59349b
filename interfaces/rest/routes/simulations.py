"""What-if simulations on recorded usage (writes nothing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from application.simulation import Totals, by_model_rows
from interfaces import presenters
from interfaces.rest.auth import AdminDep
from interfaces.rest.dependencies import SimulationsDep
from interfaces.rest.responses import PROBLEMS, SimulationPublic
from interfaces.rest.schemas import CallerId, ModelOverrideIn, Moment, MoneyText, RateIn, Strict, TiersIn

router = APIRouter(tags=["simulations"])


class CandidatePrices(Strict):
    effective_from: Moment
    rates: list[RateIn] = Field(min_length=1, max_length=20_000)


class CandidatePlan(Strict):
    markup_percent: MoneyText = "0"
    tiers: TiersIn | None = None
    model_overrides: list[ModelOverrideIn] = Field(default_factory=list, max_length=1000)


class SimulationCreate(Strict):
    customer: CallerId | None = None
    start: Moment = Field(alias="from")
    end: Moment = Field(alias="to")
    price_version: CandidatePrices | None = None
    plan: CandidatePlan | None = None


def _totals(totals: Totals) -> dict[str, str]:
    return {
        "cost": presenters.money(totals.cost),
        "charge": presenters.money(totals.charge),
        "tier_adjustment": presenters.money(totals.tier_adjustment),
    }


@router.post("/v1/simulations", response_model=SimulationPublic, responses=PROBLEMS)
def simulate(body: SimulationCreate, simulations: SimulationsDep, _: AdminDep) -> dict[str, Any]:
    result = simulations.simulate(
        body.customer,
        body.start,
        body.end,
        body.price_version.model_dump() if body.price_version else None,
        body.plan.model_dump() if body.plan else None,
    )
    return {
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "currency": result.currency,
        "events": result.events,
        "actual": _totals(result.actual),
        "simulated": _totals(result.simulated),
        "difference": presenters.money(result.difference),
        "by_model": [
            {
                "provider": provider,
                "model": model,
                "actual": presenters.money(actual.charge),
                "simulated": presenters.money(simulated.charge),
                "actual_cost": presenters.money(actual.cost),
                "simulated_cost": presenters.money(simulated.cost),
            }
            for provider, model, actual, simulated in by_model_rows(result)
        ],
    }
