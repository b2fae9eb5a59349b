"""Scoped operator keys: issued, listed and revoked by the admin key only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from application.operator_keys import OperatorKeys
from interfaces.rest.auth import AdminDep, ServicesDep
from interfaces.rest.responses import PROBLEMS
from interfaces.rest.schemas import Strict

router = APIRouter(tags=["operator keys"])
Scope = Literal["usage:write", "authorizations:write", "read"]


async def operator_keys(services: ServicesDep) -> OperatorKeys:
    return services.app.operator_keys


OperatorKeysDep = Annotated[OperatorKeys, Depends(operator_keys)]


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
def create_api_key(body: OperatorKeyCreate, keys: OperatorKeysDep, _: AdminDep) -> dict[str, Any]:
    issued = keys.issue(list(body.scopes))
    return {"id": issued.id, "key": issued.key, "scopes": issued.scopes, "created_at": issued.created_at}


@router.get("/v1/api-keys", response_model=OperatorKeysPublic, responses=PROBLEMS)
def list_api_keys(keys: OperatorKeysDep, _: AdminDep) -> dict[str, Any]:
    listed = keys.listed()
    return {"keys": [{"id": key.id, "scopes": key.scopes, "created_at": key.created_at} for key in listed]}


@router.delete("/v1/api-keys/{key_id}", status_code=204, responses=PROBLEMS)
def revoke_api_key(key_id: str, keys: OperatorKeysDep, _: AdminDep) -> Response:
    keys.revoke(key_id)
    return Response(status_code=204)
