"""The baseline for `python -m bench.wrk`: the least a FastAPI + psycopg-pool
app can do for the same two requests, under the same uvicorn settings as
`tally serve`. GET balance reads one row; POST authorization is one
transaction that locks the wallet row, checks the funds, inserts a hold and
moves the held sum. No ledger, no log, no keys beyond one string comparison.

    python -m bench.minimal_app --port 8001 --conninfo postgresql://... --schema s
"""

from __future__ import annotations

import argparse
import hmac
from decimal import Decimal
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

POOL_SIZE = 16


class AuthorizationBody(BaseModel):
    id: str
    customer: str
    amount: str


def create_schema(conninfo: str, schema: str, customers: list[str], balance: str) -> None:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        connection.execute(
            f'CREATE TABLE "{schema}".wallets'
            " (customer text PRIMARY KEY, balance numeric NOT NULL, held numeric NOT NULL)"
        )
        connection.execute(
            f'CREATE TABLE "{schema}".holds (id text PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL)'
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                f'INSERT INTO "{schema}".wallets VALUES (%s, %s, 0)', [(customer, balance) for customer in customers]
            )


def create_app(conninfo: str, schema: str, key: str) -> FastAPI:
    pool = ConnectionPool(
        conninfo, min_size=POOL_SIZE, max_size=POOL_SIZE, kwargs={"options": f"-c search_path={schema}"}
    )
    app = FastAPI()

    def check(request: Request) -> None:
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), f"Bearer {key}".encode()):
            raise HTTPException(401)

    @app.get("/v1/customers/{customer}/balance")
    def balance(customer: str, request: Request) -> dict[str, Any]:
        check(request)
        with pool.connection() as connection:
            row = connection.execute("SELECT balance, held FROM wallets WHERE customer = %s", (customer,)).fetchone()
        if row is None:
            raise HTTPException(404)
        return {"customer": customer, "balance": str(row[0]), "held": str(row[1]), "available": str(row[0] - row[1])}

    @app.post("/v1/authorizations", status_code=201)
    def authorize(body: AuthorizationBody, request: Request) -> Any:
        check(request)
        amount = Decimal(body.amount)
        with pool.connection() as connection, connection.transaction():
            row = connection.execute(
                "SELECT balance - held FROM wallets WHERE customer = %s FOR UPDATE", (body.customer,)
            ).fetchone()
            if row is None:
                raise HTTPException(404)
            if row[0] < amount:
                return JSONResponse({"code": "insufficient_funds", "available": str(row[0])}, status_code=402)
            connection.execute("INSERT INTO holds VALUES (%s, %s, %s)", (body.id, body.customer, amount))
            connection.execute("UPDATE wallets SET held = held + %s WHERE customer = %s", (amount, body.customer))
        return {"id": body.id, "status": "approved", "available": str(row[0] - amount)}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.minimal_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--conninfo", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--key", required=True)
    options = parser.parse_args()
    app = create_app(options.conninfo, options.schema, options.key)
    uvicorn.run(app, host="127.0.0.1", port=options.port, log_level="warning", log_config=None, access_log=False)


if __name__ == "__main__":
    main()
