"""Fixtures: every store-backed test runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.settings import Settings
from interfaces.bootstrap import Services, bootstrap
from tests.clock import FakeClock
from tests.stripe_server import API_KEY, localstripe
from tests.support import ADMIN_KEY, NOW, postgres_schema_url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/tally.db"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_schema_url()


def open_services(url: str) -> Services:
    return bootstrap(Settings(database_url=url, admin_key=ADMIN_KEY), start_follower=False, clock=FakeClock(NOW))


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    opened = open_services(database_url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def stripe_base() -> Iterator[str]:
    """One local Stripe server (localstripe) for the session."""
    with localstripe() as base:
        yield base


@pytest.fixture
def stripe_services(database_url: str, stripe_base: str) -> Iterator[Services]:
    """Services whose card payments go to the local Stripe server."""
    settings = Settings(
        database_url=database_url, admin_key=ADMIN_KEY, stripe_api_key=API_KEY, stripe_api_base=stripe_base
    )
    opened = bootstrap(settings, start_follower=False, clock=FakeClock(NOW))
    yield opened
    opened.close()
