from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import running_server


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


@pytest.fixture
def sqlite_server(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with running_server(f"sqlite:///{tmp_path}/tally.db") as base:
        yield base
