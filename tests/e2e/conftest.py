from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import running_server
from tests.stripe_server import API_KEY, WEBHOOK_SECRET, localstripe, register_webhook


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


@pytest.fixture
def sqlite_server(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with running_server(f"sqlite:///{tmp_path}/tally.db") as base:
        yield base


@pytest.fixture
def stripe_tally_server(database_url: str) -> Iterator[tuple[str, str]]:
    """A tally server whose card payments go to its own local Stripe server,
    which sends its signed webhooks back to it: (tally URL, Stripe URL)."""
    with localstripe() as stripe_base:
        env = {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": stripe_base, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
        with running_server(database_url, env_extra=env) as base:
            register_webhook(stripe_base, f"{base}/v1/webhooks/stripe")
            yield base, stripe_base
