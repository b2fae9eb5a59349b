"""Per-run isolation: SQLite files in a temporary directory and PostgreSQL
schemas named for the run, all removed when the run ends."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import psycopg
from psycopg import sql

from infrastructure.storage import parse_database_url

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class BenchError(RuntimeError):
    """A measurement could not complete (a bound was hit, a request failed)."""


def local_postgres_url(url: str) -> str:
    host = urlparse(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise BenchError(f"the benchmark only talks to 127.0.0.1, not {host!r}")
    return url


class RunStores:
    def __init__(self, postgres_url: str) -> None:
        self.postgres_url = local_postgres_url(postgres_url)
        self.tag = f"bench_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(3)}"
        self.directory = Path(tempfile.mkdtemp(prefix="tally-bench-"))
        self.schemas: list[str] = []

    def url(self, kind: str, name: str) -> str:
        """A fresh store for one measurement."""
        if kind == "sqlite":
            return f"sqlite:///{self.directory / name}.db"
        schema = self.schema(name)
        parsed = urlparse(self.postgres_url)
        query = [(key, value) for key, value in parse_qsl(parsed.query) if key != "schema"]
        return urlunparse(parsed._replace(query=urlencode([*query, ("schema", schema)])))

    def schema(self, name: str) -> str:
        schema = f"{self.tag}_{name}"
        assert len(schema) < 63 and schema.isidentifier(), schema
        self.schemas.append(schema)
        return schema

    def sqlite_path(self, name: str) -> Path:
        return self.directory / f"{name}.db"

    @property
    def conninfo(self) -> str:
        return parse_database_url(self.postgres_url).postgres_conninfo

    def close(self) -> list[str]:
        """Drop every schema this run made and the temporary directory; returns problems."""
        problems = []
        if self.schemas:
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10) as connection:
                    for schema in self.schemas:
                        statement = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                        connection.execute(statement)
            except psycopg.Error as error:
                problems.append(f"could not drop schemas {self.schemas}: {error}")
        shutil.rmtree(self.directory, ignore_errors=True)
        return problems
