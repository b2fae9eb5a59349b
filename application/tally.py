"""The tally application: one event-sourced application, one notification
log, so that a single ordered stream feeds every projection and an auditor
replays one history. Its constructor is TallyBase's (application/base.py);
the use cases are the modules in between."""

from __future__ import annotations

from application.base import utc_now
from application.notifications import Notifications

__all__ = ["Tally", "utc_now"]


class Tally(Notifications):
    name = "tally"
