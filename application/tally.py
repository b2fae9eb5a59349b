"""The tally application: one event-sourced application, one notification
log, so that a single ordered stream feeds every projection and an auditor
replays one history. Its constructor is TallyBase's (application/base.py);
the use cases are the modules in between."""

from __future__ import annotations

from typing import Any, ClassVar

from application.base import utc_now
from application.notifications import Notifications
from domain.holds import Holds

__all__ = ["Tally", "utc_now"]


class Tally(Notifications):
    name = "tally"
    # A busy customer's Holds gains an event per authorization: a snapshot
    # every 200 keeps loading it (at a process's first authorization for the
    # customer; later ones read only the new events) short.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Holds: 200}
