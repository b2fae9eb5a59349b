"""The Python client's tests: the package in clients/python, against a real
tally server on both stores. `make setup` installs the client; a checkout
that has not reinstalled since finds it on the path here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import tally_client  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from tests.e2e.server import client, running_server
from tests.e2e.test_rest_flow import setup_catalog


@pytest.fixture
def tally(database_url: str) -> Iterator[tuple[str, str]]:
    """A seeded server (acme holds 25.00) and a scoped operator key for the
    client: (base URL, key)."""
    with running_server(database_url) as base, client(base) as admin:
        setup_catalog(admin)
        scopes = ["usage:write", "authorizations:write", "read"]
        issued = admin.post("/v1/api-keys", json={"scopes": scopes})
        assert issued.status_code == 201, issued.text
        yield base, issued.json()["key"]
