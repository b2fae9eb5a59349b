"""The policy that keeps ratings true: it follows the log for published price
and plan versions and, for each, re-rates the usage the version covers (from
its effective_from on). Its position is a checkpoint, advanced only after the
re-rating is appended, so a crash repeats a step, which changes nothing the
second time."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.utils import get_topic

from application.errors import Conflict
from application.ports import Checkpoints
from application.rerating import Rerating
from domain.events import PlanVersionPublished, PriceVersionPublished

logger = logging.getLogger(__name__)
CHECKPOINT = "version-watcher"
PAGE = 100
TOPICS = [get_topic(PriceVersionPublished), get_topic(PlanVersionPublished)]


class VersionWatcher:
    def __init__(self, app: Rerating, checkpoints: Checkpoints) -> None:
        self.app = app
        self.checkpoints = checkpoints

    def step(self) -> int:
        """Handle the next published versions; returns how many."""
        position = self.checkpoints.get(CHECKPOINT)
        page = self.app.recorder.select_notifications(position, PAGE, topics=TOPICS, inclusive_of_start=False)
        for notification in page:
            try:
                self._handle(self.app.mapper.to_domain_event(notification))
            except Conflict:
                return 0  # the read model is still catching up: try again later, from here
            self.checkpoints.put(CHECKPOINT, notification.id)
        return len(page)

    def _handle(self, event: Any) -> None:
        self.app.reference.refresh()
        if isinstance(event, PriceVersionPublished):
            book = next(b for b in self.app.reference.price_books.values() if b.id == event.originator_id)
            report = self.app.rerate(
                price_book=book.price_book_id,
                since=event.effective_from,
                reason=f"price book {book.price_book_id} version {event.number}",
            )
        else:
            plan = next(p for p in self.app.reference.plans.values() if p.id == event.originator_id)
            report = self.app.rerate(
                plan=plan.plan_id, since=event.effective_from, reason=f"plan {plan.plan_id} version {event.number}"
            )
        logger.info("re-rated %s of %s usage events (%s conflicts)", report.rerated, report.scanned, report.conflicts)
