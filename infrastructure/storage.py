"""TALLY_DATABASE_URL, mapped in one place onto eventsourcing's persistence
settings and onto the read model's database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.utils import get_topic
from psycopg.conninfo import make_conninfo

from infrastructure.fast_recorder import FastPostgresApplicationRecorder

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Store:
    kind: str  # "sqlite" | "postgresql"
    env: dict[str, str]
    sqlite_path: str = ""
    postgres_conninfo: str = ""
    postgres_schema: str = "public"


def shown_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")).geturl()


def parse_database_url(url: str) -> Store:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError("a SQLite URL names a file: sqlite:///PATH")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path, "SQLITE_LOCK_TIMEOUT": "30"}
        return Store("sqlite", env, sqlite_path=path)
    if parsed.scheme in ("postgresql", "postgres"):
        return _postgres(parsed.hostname or "127.0.0.1", parsed)
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r}: use sqlite:/// or postgresql://")


def _postgres(host: str, parsed: object) -> Store:
    from urllib.parse import ParseResult

    assert isinstance(parsed, ParseResult)
    dbname = parsed.path.lstrip("/") or "postgres"
    user = unquote(parsed.username or "postgres")
    password = unquote(parsed.password or "")
    port = str(parsed.port or 5432)
    schema = parse_qs(parsed.query).get("schema", ["public"])[0]
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"schema {schema!r}: use lower-case letters, digits and '_' (at most 63)")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": port,
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password,
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "8",
        "APPLICATION_RECORDER_TOPIC": get_topic(FastPostgresApplicationRecorder),
    }
    conninfo = make_conninfo(host=host, port=port, dbname=dbname, user=user, password=password or None)
    return Store("postgresql", env, postgres_conninfo=conninfo, postgres_schema=schema)
