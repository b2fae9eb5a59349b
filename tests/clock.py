"""A clock for tests: it stands still at a moment the test sets."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class FakeClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


def clock_of(app: Any) -> FakeClock:
    """The fake clock an application under test was built with."""
    assert isinstance(app.clock, FakeClock), "build the application with a FakeClock to move its time"
    return app.clock
