"""The journal and the trial balance, for auditors (admin key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from application.validation import POSITION_PATTERN
from interfaces import presenters
from interfaces.rest.auth import AdminDep, ServicesDep
from interfaces.rest.dependencies import ClockDep
from interfaces.rest.responses import PROBLEMS, EntriesPublic, TrialBalancePublic
from interfaces.rest.schemas import Moment

router = APIRouter(tags=["audit"])


@router.get("/v1/ledger/entries", response_model=EntriesPublic, responses=PROBLEMS)
def ledger_entries(
    services: ServicesDep,
    _: AdminDep,
    account: str | None = None,
    start: Annotated[Moment | None, Query(alias="from")] = None,
    end: Annotated[Moment | None, Query(alias="to")] = None,
    cursor: Annotated[
        # ASCII digits only: str.isdigit() also passes "³", which int() refuses.
        str | None, Query(pattern=POSITION_PATTERN.pattern, description="The next_cursor of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    entries = services.queries.entries(account=account, start=start, end=end, after=int(cursor or 0), limit=limit)
    next_cursor = str(entries[-1].position) if len(entries) >= limit else None
    return {"entries": [presenters.entry(e) for e in entries], "next_cursor": next_cursor}


@router.get("/v1/ledger/trial-balance", response_model=TrialBalancePublic, responses=PROBLEMS)
def trial_balance(services: ServicesDep, clock: ClockDep, _: AdminDep, as_of: Moment | None = None) -> dict[str, Any]:
    moment = as_of or clock()
    return presenters.trial_balance(moment, services.queries.trial_balance(as_of))
