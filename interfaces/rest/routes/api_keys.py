"""Scoped operator keys: issued, listed and revoked by the admin key only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from interfaces.rest.auth import AdminDep, ServicesDep
from interfaces.rest.responses import PROBLEMS
from interfaces.rest.schemas import Strict

router = APIRouter(tags=["operator keys"])
Scope = Literal["usage:write", "authorizations:write", "read"]


class OperatorKeyCreate(Strict):
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)]


class OperatorKeyPublic(BaseModel):
    id: str
    scopes: list[str]
    created_at: str | None = None


class OperatorKeyIssuedPublic(OperatorKeyPublic):
    key: str = Field(description="Shown once; tally keeps only its hash.")


class OperatorKeysPublic(BaseModel):
    keys: list[OperatorKeyPublic]


@router.post("/v1/api-keys", status_code=201, response_model=OperatorKeyIssuedPublic, responses=PROBLEMS)
def create_api_key(body: OperatorKeyCreate, services: ServicesDep, _: AdminDep) -> dict[str, Any]:
    issued = services.operator_keys.issue(list(body.scopes))
    return {"id": issued.id, "key": issued.key, "scopes": issued.scopes, "created_at": issued.created_at}


@router.get("/v1/api-keys", response_model=OperatorKeysPublic, responses=PROBLEMS)
def list_api_keys(services: ServicesDep, _: AdminDep) -> dict[str, Any]:
    listed = services.operator_keys.listed()
    return {"keys": [{"id": key.id, "scopes": key.scopes, "created_at": key.created_at} for key in listed]}


@router.delete("/v1/api-keys/{key_id}", status_code=204, responses=PROBLEMS)
def revoke_api_key(key_id: str, services: ServicesDep, _: AdminDep) -> Response:
    services.operator_keys.revoke(key_id)
    return Response(status_code=204)
