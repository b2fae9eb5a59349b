"""The journal and the trial balance, for auditors (admin key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from application.errors import ValidationFailed
from application.validation import is_position
from interfaces import presenters
from interfaces.rest.auth import AdminDep, ServicesDep
from interfaces.rest.responses import PROBLEMS, EntriesPublic, TrialBalancePublic

router = APIRouter(tags=["audit"])


def _cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not is_position(cursor):
        raise ValidationFailed("cursor must be a next_cursor from an earlier page", [{"loc": "cursor", "msg": "bad"}])
    return int(cursor)


@router.get("/v1/ledger/entries", response_model=EntriesPublic, responses=PROBLEMS)
def ledger_entries(
    services: ServicesDep,
    _: AdminDep,
    account: str | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    entries = services.queries.entries(account=account, start=start, end=end, after=_cursor(cursor), limit=limit)
    next_cursor = str(entries[-1].position) if len(entries) >= limit else None
    return {"entries": [presenters.entry(e) for e in entries], "next_cursor": next_cursor}


@router.get("/v1/ledger/trial-balance", response_model=TrialBalancePublic, responses=PROBLEMS)
def trial_balance(services: ServicesDep, _: AdminDep, as_of: AwareDatetime | None = None) -> dict[str, Any]:
    moment = as_of or services.app.clock()
    return presenters.trial_balance(moment, services.queries.trial_balance(as_of))
