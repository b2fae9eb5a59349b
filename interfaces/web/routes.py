"""The web dashboard: one static page that reads the public GraphQL API (and
follows balanceChanged over a websocket). It holds no data of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from interfaces.rest.auth import PrincipalDep
from interfaces.rest.responses import PROBLEMS

router = APIRouter(tags=["dashboard"])
PAGE = (Path(__file__).parent / "dashboard.html").read_text(encoding="utf-8")


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> str:
    return PAGE


@router.get("/v1/whoami", responses=PROBLEMS)
def whoami(who: PrincipalDep) -> dict[str, Any]:
    """Which customer a key belongs to (null for the operator's keys), and a
    scoped operator key's scopes (null for the admin key and customer keys)."""
    return {"customer": who.customer, "admin": who.is_admin, "scopes": sorted(who.scopes) if who.scopes else None}
