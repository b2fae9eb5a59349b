"""The policy that keeps ratings true: it follows the log for published price
and plan versions and, for each, re-rates the usage the version covers (from
its effective_from on). Its position is a checkpoint, advanced only after the
re-rating is appended, so a crash repeats a step, which changes nothing the
second time. A settling pass repeats each step a few seconds later for the
usage that raced the version's publication."""

from __future__ import annotations

import logging
import time
from typing import Any

from eventsourcing.utils import get_topic

from application.errors import Conflict
from application.ports import Checkpoints
from application.tier_settlements import TierSettlements
from domain.events import PlanVersionPublished, PriceVersionPublished

logger = logging.getLogger(__name__)
CHECKPOINT = "version-watcher"
PAGE = 100
SETTLE_SECONDS = 5.0
TOPICS = [get_topic(PriceVersionPublished), get_topic(PlanVersionPublished)]


class VersionWatcher:
    def __init__(self, app: TierSettlements, checkpoints: Checkpoints) -> None:
        self.app = app
        self.checkpoints = checkpoints
        self._settling: list[tuple[float, dict[str, Any]]] = []

    def step(self) -> int:
        """Handle the next published versions; returns how many."""
        self._settle_due()
        position = self.checkpoints.get(CHECKPOINT)
        page = self.app.recorder.select_notifications(position, PAGE, topics=TOPICS, inclusive_of_start=False)
        for notification in page:
            request = self._request(self.app.mapper.to_domain_event(notification))
            try:
                self._rerate(request)
            except Conflict:
                return 0  # the read model is still catching up: try again later, from here
            self.checkpoints.put(CHECKPOINT, notification.id)
            self._settling.append((time.monotonic() + SETTLE_SECONDS, request))
        return len(page)

    def _settle_due(self) -> None:
        """A second pass a few seconds later: a batch that read the reference
        data just before the version was published, and appended just after
        the first pass read the log, is re-rated here."""
        now = time.monotonic()
        due = [request for at, request in self._settling if at <= now]
        self._settling = [(at, request) for at, request in self._settling if at > now]
        for request in due:
            try:
                self._rerate({**request, "reason": request["reason"] + " (settling pass)"})
            except Conflict:
                self._settling.append((now + SETTLE_SECONDS, request))

    def _request(self, event: Any) -> dict[str, Any]:
        self.app.reference.refresh()
        if isinstance(event, PriceVersionPublished):
            book = next(b for b in self.app.reference.price_books.values() if b.id == event.originator_id)
            name = book.price_book_id
            return {
                "price_book": name,
                "since": event.effective_from,
                "reason": f"price book {name} version {event.number}",
            }
        plan = next(p for p in self.app.reference.plans.values() if p.id == event.originator_id)
        return {
            "plan": plan.plan_id,
            "since": event.effective_from,
            "reason": f"plan {plan.plan_id} version {event.number}",
        }

    def _rerate(self, request: dict[str, Any]) -> None:
        report = self.app.rerate(**request)
        if "plan" in request:  # a new ladder may change what a month owes without changing any rating
            self.app.resettle_plan(request["plan"], request["since"])
        logger.info(
            "%s: re-rated %s of %s usage events (%s conflicts)",
            request["reason"], report.rerated, report.scanned, report.conflicts,
        )  # fmt: skip
