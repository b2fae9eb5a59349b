"""Closing the services while a re-rating waits for the read model: the
wait ends, the re-rating defers as when the read model is behind, and the
close does not wait out the re-rating's timeout. On both stores."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from application.errors import Conflict
from tests.conftest import open_services
from tests.support import event, seed

WEEK_AGO = datetime(2026, 11, 19, tzinfo=UTC)
# Far below the re-rating's own wait (application/rerating.py, 30 s): a
# close that waited it out would fail this, however slow the machine.
CLOSE_WITHIN_SECONDS = 15.0


def test_a_close_ends_a_rerating_s_wait_for_the_read_model(database_url: str) -> None:
    services = open_services(database_url)  # its follower is not running: the read model stays behind
    try:
        seed(services.app)
        services.app.metering.record_usage([event("e1")])
        assert services.follower.position < services.app.store.head()
        outcome: list[BaseException | str] = []

        def rerate() -> None:
            try:
                services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="backdated")
                outcome.append("re-rated")
            except BaseException as error:
                outcome.append(error)

        waiting = threading.Thread(target=rerate)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive(), "it waits for the read model"
    finally:
        closing = threading.Thread(target=services.close)
        closing.start()
        closing.join(CLOSE_WITHIN_SECONDS)
    assert not closing.is_alive(), "the close waited out the re-rating"
    waiting.join(CLOSE_WITHIN_SECONDS)
    assert not waiting.is_alive()
    (ended,) = outcome
    assert isinstance(ended, Conflict), ended
    assert "behind" in ended.detail


def test_a_closed_barrier_answers_at_once_and_an_open_one_still_waits(database_url: str) -> None:
    services = open_services(database_url)
    try:
        seed(services.app)
        assert not services.app.barrier.caught_up(0.2), "seeded, not projected"
        services.follower.catch_up()
        assert services.app.barrier.caught_up(0.2)
        services.app.barrier.close()
        assert not services.app.barrier.caught_up(30), "closing: no wait"
    finally:
        services.close()
    with pytest.raises(Conflict):
        services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="after the close")
