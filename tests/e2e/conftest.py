from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.server import running_server
from tests.stripe_server import API_KEY, WEBHOOK_SECRET, localstripe, register_webhook

# Through real servers on the real clock, a test's usage at "now" and its
# reads of today or this month must fall in the same UTC day: a test begun
# this close to midnight waits for the new day first.
MIDNIGHT_MARGIN = timedelta(minutes=2)


@pytest.fixture(autouse=True)
def not_across_midnight() -> None:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight - now < MIDNIGHT_MARGIN:
        time.sleep((midnight - now).total_seconds() + 1)


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
