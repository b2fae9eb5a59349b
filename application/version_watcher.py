"""The policy that keeps ratings true: it follows the log for published price
and plan versions, and for customers' changes of plan, and re-rates the
usage each covers (from a version's effective_from on, from a plan change's
effective_at on, for that customer alone) twice. The first pass runs as soon as the version is in
the log; the settling pass runs SETTLE_SECONDS later, for usage that raced
the publication. Each pass has its checkpoint, advanced only after its
re-rating is appended, so a crash or a restart repeats a step (which changes
nothing the second time) and never skips one.

Why no usage escapes both passes. A usage is rated by the batch that records
it, or by a re-rating chunk, with the reference data (customers, price and
plan versions) that batch read. Take a version V, visible in the log from
the moment tV, and a batch that read the reference data at t0 and whose
append committed at t1.

1. If the batch read the reference data after tV, it rated with V.
2. Otherwise t0 < tV. A batch never starts its append with reference data
   read more than REFERENCE_MAX_AGE_SECONDS earlier (it reads them again
   first), so its append starts before t0 + REFERENCE_MAX_AGE_SECONDS.
3. The first pass for V begins after tV: it reads the log's head and waits
   for the read model to apply it. A usage committed before that read is
   re-rated by it.
4. A usage committed after it is re-rated by the settling pass, which reads
   the head again no sooner than SETTLE_SECONDS after this process knew V's
   first pass done, itself after tV: so after t0 + SETTLE_SECONDS. The usage
   is in the log by then when its append commits within SETTLE_SECONDS -
   REFERENCE_MAX_AGE_SECONDS of starting (four seconds for one insert). A
   batch that commits later than that is logged as a warning by metering,
   and `tally audit` names any rating it leaves out of force.

The settling moment is counted on this process's own monotonic clock from
when it first knew the first pass done, never from the version's stored
timestamp: another host's clock, or a publisher slow to commit, cannot
shorten it. After a restart the settling checkpoint still names the versions
whose settling pass has not run; they get it SETTLE_SECONDS after the
process first sees them. A pass that lost a race to a concurrent re-rating
(another process's watcher) does not count and runs again.

A change of plan (PATCH /v1/customers/{id}) is carried out here, like a
version, rather than by the request that makes it: a batch that read the
customer before the change and appends after it rated its usage under the
old plan, and only a pass that reads the log after that append (the
settling pass, by the argument above, with the change in the place of V)
can correct it; the watcher already gives that pass a persisted checkpoint
that survives a crash between the change and its re-rating, which a
request's own re-rating would not. A change that leaves the plan as it was
(a new name, a new billing mode) re-rates nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.utils import get_topic

from application.errors import Conflict
from application.ports import Checkpoints, EventLog
from application.rating_in_force import REFERENCE_MAX_AGE_SECONDS, SETTLING_SECONDS
from application.reference import ReferenceData
from application.rerating import RerateReport, Rerating
from application.tier_settlements import TierSettlements
from domain.customer import Customer
from domain.events import CustomerUpdated, PlanVersionPublished, PriceVersionPublished

logger = logging.getLogger(__name__)
CHECKPOINT = "version-watcher"
SETTLED_CHECKPOINT = "version-watcher-settled"
PAGE = 100
SETTLE_SECONDS = SETTLING_SECONDS
TOPICS = [get_topic(PriceVersionPublished), get_topic(PlanVersionPublished), get_topic(CustomerUpdated)]
assert SETTLE_SECONDS >= 4 * REFERENCE_MAX_AGE_SECONDS, "the settling window leaves an append time to commit"


class VersionWatcher:
    def __init__(
        self,
        log: EventLog,
        reference: ReferenceData,
        rerating: Rerating,
        tiers: TierSettlements,
        checkpoints: Checkpoints,
    ) -> None:
        self.log = log
        self.reference = reference
        self.rerating = rerating
        self.tiers = tiers
        self.checkpoints = checkpoints
        # log position of a version → time.monotonic() when this process first knew its first pass done
        self._first_pass_known: dict[int, float] = {}

    def step(self) -> int:
        """Settle the versions due, then handle the next published ones;
        returns how many versions had their first pass."""
        self._settling_passes()
        return self._first_passes()

    def _first_passes(self) -> int:
        position = self.checkpoints.get(CHECKPOINT)
        page = self.log.read(position, PAGE, topics=TOPICS)
        for at, event in page:
            request = self._request(event)
            try:
                if request is not None:
                    self._rerate(request)
            except Conflict:
                return 0  # the read model is still catching up: try again later, from here
            self.checkpoints.put(CHECKPOINT, at)
            self._first_pass_known[at] = time.monotonic()
        return len(page)

    def _settling_passes(self) -> int:
        """The second pass for each version whose first pass this process has
        known done for SETTLE_SECONDS, in log order; several versions due at
        once are settled by one re-rating per price book or plan, from the
        earliest effective_from among them. Returns how many were settled."""
        settled, handled = self.checkpoints.get(SETTLED_CHECKPOINT), self.checkpoints.get(CHECKPOINT)
        if settled >= handled:
            self._first_pass_known.clear()
            return 0
        due = self._due(self.log.read(settled, PAGE, topics=TOPICS, stop=handled))
        if not due:
            return 0
        requests = [self._request(event) for _, event in due]
        for request in _merged([request for request in requests if request is not None]):
            try:
                report = self._rerate({**request, "reason": request["reason"] + " (settling pass)"})
            except Conflict:
                return 0  # the read model is behind: the whole pass again later
            if report.conflicts:
                return 0  # a concurrent re-rating took some of these: run the pass again, it converges
        self.checkpoints.put(SETTLED_CHECKPOINT, due[-1][0])
        for at, _ in due:
            self._first_pass_known.pop(at, None)
        return len(due)

    def _due(self, page: Sequence[tuple[int, Any]]) -> list[tuple[int, Any]]:
        """The leading versions of `page` whose settling moment has come; a
        version first seen here (another process ran its first pass, or this
        one restarted) counts from now."""
        now = time.monotonic()
        due = []
        for at, event in page:
            known = self._first_pass_known.setdefault(at, now)
            if now - known < SETTLE_SECONDS:
                break
            due.append((at, event))
        return due

    def _request(self, event: Any) -> dict[str, Any] | None:
        """The re-rating an event in the log calls for (None: none)."""
        self.reference.refresh()
        if isinstance(event, CustomerUpdated):
            return _plan_change_request(self.reference.customers, event)
        if isinstance(event, PriceVersionPublished):
            book = next(b for b in self.reference.price_books.values() if b.id == event.originator_id)
            name = book.price_book_id
            return {
                "price_book": name,
                "since": event.effective_from,
                "version": event.number,  # usage rated knowing it needs nothing from this pass
                "reason": f"price book {name} version {event.number}",
            }
        plan = next(p for p in self.reference.plans.values() if p.id == event.originator_id)
        return {
            "plan": plan.plan_id,
            "since": event.effective_from,
            "version": event.number,
            "reason": f"plan {plan.plan_id} version {event.number}",
        }

    def _rerate(self, request: dict[str, Any]) -> RerateReport:
        report = self.rerating.rerate(**request)
        if "plan" in request:  # a new ladder may change what a month owes without changing any rating
            self.tiers.resettle_plan(request["plan"], request["since"])
        if "customer" in request:  # so may a new plan's
            self.tiers.resettle_customer(request["customer"], request["since"])
        logger.info(
            "%s: re-rated %s of %s usage events (%s conflicts)",
            request["reason"], report.rerated, report.scanned, report.conflicts,
        )  # fmt: skip
        return report


def _plan_change_request(customers: Mapping[str, Customer], event: Any) -> dict[str, Any] | None:
    """For a customer's change that moved it to another plan: re-rate its
    usage from the moment the new plan takes effect."""
    customer = next((found for found in customers.values() if found.id == event.originator_id), None)
    if customer is None or (event.effective_at, event.plan) not in customer.plan_changes:
        return None  # the plan stayed as it was: no rating changes
    return {
        "customer": customer.customer_id,
        "since": event.effective_at,
        "reason": f"customer {customer.customer_id} moved to plan {event.plan}",
    }


def _merged(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One request per price book, plan or customer, from the earliest
    `since` among the versions or plan changes it settles, its reason naming
    the first of them; for versions, the latest number among them (usage
    rated with an earlier one may not know a later one)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    for request in requests:
        kind: str = next(name for name in ("plan", "price_book", "customer") if name in request)
        key = (kind, request[kind])
        counts[key] = counts.get(key, 0) + 1
        found = merged.setdefault(key, dict(request))
        since: datetime = min(found["since"], request["since"])
        found["since"] = since
        if "version" in request:
            found["version"] = max(found["version"], request["version"])
    for key, count in counts.items():
        if count > 1:
            merged[key]["reason"] += f" and {count - 1} later " + ("changes" if key[0] == "customer" else "versions")
    return list(merged.values())
