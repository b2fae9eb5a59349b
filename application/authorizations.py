"""Authorizations: may this model call proceed? Approve with a hold, or
refuse with 402 and why; limits on spend per day or month; void and expiry.
See domain/holds.py for why approving cannot overspend."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application import validation
from application.customers import Customers
from application.errors import Conflict, NotFound, ValidationFailed
from application.event_store import EventStore
from application.group_commit import GroupCommit
from application.hold_index import HoldIndex
from application.log_tail import LogTail, TailFigures
from application.ports import AuthorizationReads, Clock, Moment
from application.rating_in_force import RatingInForce
from application.usage_input import estimate_usage
from domain.customer import Customer
from domain.holds import Authorization, Holds, ProjectedStanding, Standing, decide
from domain.identifiers import is_caller_id
from domain.money import ZERO
from domain.standing_changes import is_past_due
from domain.tier_settlement import period_bounds, period_of

DEFAULT_EXPIRY_SECONDS = 300
MAX_EXPIRY_SECONDS = 7 * 24 * 3600
MAX_ATTEMPTS = 50
LIMIT_PERIODS = ("day", "month")
# Holds seen captured are swept out of the customer's Holds once this many
# have gathered, in the append of the next approval (no append of its own).
SWEEP_AT = 32


class Authorizations:
    def __init__(
        self,
        store: EventStore,
        customers: Customers,
        rating: RatingInForce,
        authorization_reads: AuthorizationReads,
        log_tail: LogTail,
        clock: Clock,
    ) -> None:
        self.store = store
        self.customers = customers
        self.rating = rating
        self.authorization_reads = authorization_reads
        self.log_tail = log_tail  # what the read model has not applied
        self.clock = clock
        self._customer_locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._holds_cache: dict[str, Holds] = {}  # each customer's, used under its lock
        self.commits = GroupCommit(store.save)  # concurrent decisions appended together
        self._holds_current_at: dict[str, int] = {}  # the log's head when a customer's cached Holds was read
        # Per customer, open holds known captured. A capture is a committed
        # event and never undone, so once seen it need not be asked about again:
        # a busy gateway customer's hundreds of captured, not yet expired holds
        # would otherwise be sent to the read model at every decision.
        self._known_captured: dict[str, set[str]] = {}
        # Per customer, its open holds as decisions need them (application/hold_index.py):
        # what they keep back, and which to ask the read model about, kept as they change.
        self._indexes: dict[str, HoldIndex] = {}

    def authorize(
        self,
        authorization_id: str,
        customer_id: str,
        amount: str | None,
        estimate: Mapping[str, Any] | None,
        expires_in_seconds: int | None,
        arrived: Moment | None = None,
    ) -> tuple[Authorization, bool]:
        """Returns the decision and whether this call made it (a retry with
        the same request returns the first answer, a denial included).
        Every event committed before `arrived` (time.monotonic(); the call's
        start when not given: a gateway gives its request's) counts in it."""
        arrived = time.monotonic() if arrived is None else arrived
        validation.caller_id(authorization_id, "id")
        # An amount is decided on this process's copy of the customer, when
        # it has one, without reading the log's head for it first: the
        # standing read carries the head, the copy is then checked against it
        # and, if the customer changed, decided again (_CustomerChanged). An
        # estimate is priced first, so it reads the head before, as rating does.
        held = self.customers.held_copy(customer_id) if estimate is None else None
        customer = held if held is not None else self.customers.customer(customer_id, arrived)
        request = {"customer": customer_id, "amount": amount, "estimate": estimate, "expires": expires_in_seconds}
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:32]
        asked = self._amount_asked(customer, amount, estimate)
        seconds = DEFAULT_EXPIRY_SECONDS if expires_in_seconds is None else expires_in_seconds
        if not 1 <= seconds <= MAX_EXPIRY_SECONDS:
            raise ValidationFailed(
                f"expires_in_seconds is 1 to {MAX_EXPIRY_SECONDS}", [{"loc": "expires_in_seconds", "msg": "range"}]
            )
        with self._lock_of(customer_id):  # one at a time per customer in this process; other processes race
            for attempt in range(MAX_ATTEMPTS):
                try:
                    decided = self._try_authorize(authorization_id, customer, fingerprint, asked, seconds, arrived)
                except _CustomerChanged as changed:  # its plan may price an estimate otherwise too
                    customer = changed.customer
                    asked = self._amount_asked(customer, amount, estimate)
                    continue
                if decided is not None:
                    return decided
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # another process moved the holds: again
        raise Conflict("too many concurrent authorizations for this customer; try again")

    def _try_authorize(
        self, authorization_id: str, customer: Any, fingerprint: str, amount: Decimal, seconds: int, arrived: Moment
    ) -> tuple[Authorization, bool] | None:
        now = self.clock()
        holds = self._holds(customer.customer_id, current=False)
        standing, named = self._standing(customer, self._index(holds), now, arrived, authorization_id)
        current = self.customers.customer(customer.customer_id, arrived)  # to the head the standing read carried
        if current is not customer:
            raise _CustomerChanged(current)
        if named:  # a usage of the customer names this id already: a retry, or an id that is not new
            first = self._existing_authorization(authorization_id)
            if first is not None:
                return self._same(first, fingerprint), False
            raise Conflict(
                f"a usage event names authorization {authorization_id!r} already; "
                "an authorization's id is new for each call it covers"
            )
        decision = decide(amount, standing)
        if not decision.approved:  # a denial is stored without the holds: decide it on their current state
            holds = self._holds(customer.customer_id)
            standing, _ = self._standing(customer, self._index(holds), now, arrived)
            decision = decide(amount, standing)
        authorization = Authorization(
            authorization_id=authorization_id,
            customer=customer.customer_id,
            fingerprint=fingerprint,
            amount=str(amount),
            approved=decision.approved,
            code=decision.code,
            detail=decision.detail,
            available=str(decision.available),
            expires_at=now + timedelta(seconds=seconds),
            decided_at=now,
        )
        try:
            if decision.approved:
                swept = self._sweepable(customer.customer_id, holds)
                if swept:
                    holds.sweep(swept, now)
                holds.place(authorization_id, str(amount), authorization.expires_at, now)
                self._index(holds, holds.pending_events)
                self.commits.save(authorization, holds)
            else:
                self.commits.save(authorization)
        except BaseException as error:
            self._holds_cache.pop(customer.customer_id, None)  # its pending change was not stored (nor its index's)
            if not isinstance(error, IntegrityError):
                raise
            first = self._existing_authorization(authorization_id)
            if first is not None:  # asked before (a retry) or at the same moment: the first answer stands
                return self._same(first, fingerprint), False
            return None  # another authorization moved the holds first: decide again
        return authorization, True

    def _standing(
        self, customer: Any, index: HoldIndex, now: datetime, arrived: Moment, asking: str | None = None
    ) -> tuple[Standing, bool]:
        """The standing a decision is made on, and whether a usage of the
        customer names `asking` (the id about to be decided) already: asked
        in the same read, so a new id costs nothing more."""
        limits = customer.limits or {}
        period = limits.get("period", "month")
        start, end = limit_period(period, now)
        projected, tail, held = self._read_with_tail(
            customer,
            index,
            now,
            arrived,
            lambda asked, since: self.authorization_reads.standing(
                customer.customer_id, customer.currency, asked, start, end, since
            ),
            asking,
        )
        named = asking is not None and self._known_captured_now(customer.customer_id, asking)
        hard = limits.get("hard_limit")
        return Standing(
            billing=customer.billing,
            balance=projected.balance + tail.balance_in(customer.currency),
            held=held,
            period_spend=projected.spend + tail.spend_between(start.date(), end.date()),
            hard_limit=Decimal(hard) if hard is not None else None,
            past_due=is_past_due(projected.past_due_invoices, tail.invoice_statuses),
        ), named

    def _amount_asked(self, customer: Any, amount: str | None, estimate: Mapping[str, Any] | None) -> Decimal:
        if (amount is None) == (estimate is None):
            raise ValidationFailed("give amount or estimate, not both", [{"loc": "amount", "msg": "one of two"}])
        if amount is not None:
            return validation.amount(amount, "amount", positive=True)
        assert estimate is not None
        usage = estimate_usage(estimate.get("usage"))
        rating = self.rating.rating(customer, self.clock(), str(estimate["provider"]), str(estimate["model"]), usage)
        if rating is None:
            raise ValidationFailed(
                f"{estimate['provider']}/{estimate['model']} has no price for this usage: give an amount",
                [{"loc": "estimate", "msg": "unpriced"}],
            )
        if rating.charge <= ZERO:
            raise ValidationFailed("the estimate prices to nothing", [{"loc": "estimate", "msg": "free"}])
        return rating.charge

    def void_authorization(self, authorization_id: str) -> Authorization:
        authorization = self.find_authorization(authorization_id)
        if not authorization.approved or authorization.voided:
            return authorization
        now = self.clock()

        def void() -> Authorization:  # again when an authorization moved the holds meanwhile
            holds: Holds = self.store.repository.get(Holds.create_id(authorization.customer))
            found = self.find_authorization(authorization_id)
            if not found.voided:
                found.void(now)
                holds.release(authorization_id, now)
                self.store.save(found, holds)
            return found

        return self.store.retrying(void, f"authorization {authorization_id!r}", attempts=MAX_ATTEMPTS)

    def find_authorization(self, authorization_id: str) -> Authorization:
        found = self._existing_authorization(authorization_id) if is_caller_id(authorization_id) else None
        if found is None:
            raise NotFound(f"authorization {authorization_id!r} does not exist")
        return found

    def authorization_status(self, authorization: Authorization, just_decided: bool = False) -> str:
        """Captured as soon as the capturing usage is accepted, as `held` is:
        the read model's captures and its position in one read, then the
        log's tail beyond it. A decision this call just made is not captured
        yet: no read for it."""
        if just_decided:
            return authorization.status(self.clock(), False)
        key, customer = authorization.authorization_id, authorization.customer
        captured, position = self.authorization_reads.captured(key, customer)
        if not captured:
            captured = key in self.log_tail.figures(customer, position).captured
        return authorization.status(self.clock(), captured)

    def _existing_authorization(self, authorization_id: str) -> Authorization | None:
        try:
            found: Authorization = self.store.repository.get(Authorization.create_id(authorization_id))
        except AggregateNotFoundError:
            return None
        return found

    def _holds(self, customer_id: str, current: bool = True) -> Holds:
        """The customer's Holds, kept between authorizations in this process
        and brought up to date with the events appended since (by any
        process), so a busy customer's history is not replayed each time.

        With current=False the cached copy is used as it is: an approval
        appends the new hold at the copy's next version, so a copy another
        process moved on makes the append conflict and the decision is made
        again on the current state; the holds are never read for nothing."""
        cached = self._holds_cache.get(customer_id)
        if cached is not None and not current:
            return cached
        if cached is not None:
            index = self._indexes.get(customer_id)
            following = index is not None and index.follows(cached)
            for event in self.store.events.get(cached.id, gt=cached.version):
                cached = cast(Any, event).mutate(cached)
                if following:
                    assert index is not None
                    index.apply((event,))
            self._holds_cache[customer_id] = cached
            return cached
        try:
            found: Holds = self.store.repository.get(Holds.create_id(customer_id))
        except AggregateNotFoundError:
            found = Holds(customer_id)
        self._holds_cache[customer_id] = found
        return found

    def _index(self, holds: Holds, new_events: Any = ()) -> HoldIndex:
        """The index of these Holds (used under the customer's lock): kept in
        step with them, or rebuilt from them when it is not (first use, or
        the Holds read again), keeping what was learnt of captures; then
        given `new_events`, just applied to them."""
        customer_id = holds.customer
        index = self._indexes.get(customer_id)
        in_step = index is not None and index.holds is holds and index.version == holds.version - len(new_events)
        if new_events and in_step:
            assert index is not None
            index.apply(new_events)
        if index is None or not index.follows(holds):
            index = HoldIndex(holds, self._known_captured.setdefault(customer_id, set()), index)
            self._indexes[customer_id] = index
        return index

    @staticmethod
    def _same(first: Authorization, fingerprint: str) -> Authorization:
        if first.fingerprint != fingerprint:
            raise Conflict(f"authorization {first.authorization_id!r} was asked before with another body; it stands")
        return first

    def _lock_of(self, customer_id: str) -> threading.RLock:
        """The customer's lock in this process (reentrant: a decision made
        under it reads the standing, which takes it briefly too)."""
        with self._locks_guard:
            return self._customer_locks.setdefault(customer_id, threading.RLock())

    # Limits ----------------------------------------------------------------------------

    def set_limits(self, customer_id: str, limits: Mapping[str, Any] | None) -> Customer:
        customer = self.customers.stored(customer_id)
        customer.set_limits(parse_limits(limits) if limits is not None else None)
        self.customers.save_changed(customer)
        return customer

    def held(self, customer_id: str, customer: Customer | None = None, arrived: Moment | None = None) -> Decimal:
        """The open holds usage has not captured yet: what `held` shows. A
        caller that looked the customer up already passes it, and the moment
        its request arrived (time.monotonic()), so the log's head it read then
        serves here too."""
        arrived = time.monotonic() if arrived is None else arrived
        customer = self.customers.customer(customer_id) if customer is None else customer
        index, now = self._open_holds_now(customer_id, arrived)
        with self._lock_of(customer_id):
            if not index.is_open(now):
                return ZERO
        return self._now(customer, index, now, arrived)[1]

    def balance_now(
        self, customer_id: str, customer: Customer | None = None, arrived: Moment | None = None
    ) -> tuple[Decimal, Decimal]:
        """The balance with every event committed before `arrived` in it, and
        what open holds keep back: the read model's balance and its position
        in one statement, plus the log's tail beyond that position (the rule
        authorizations follow, application/log_tail.py), so a usage event
        whose POST was answered shows at once, whatever the read model's lag."""
        arrived = time.monotonic() if arrived is None else arrived
        customer = self.customers.customer(customer_id, arrived) if customer is None else customer
        return self._now(customer, *self._open_holds_now(customer_id, arrived), arrived)

    def balances_now(
        self, projected: Mapping[tuple[str, str], Decimal], position: int, arrived: Moment
    ) -> dict[tuple[str, str], Decimal]:
        """Balances the read model gave at `position` (one read for many
        customers), each with the log's tail beyond it added."""
        return {
            (customer, currency): amount + self.log_tail.figures(customer, position, arrived).balance_in(currency)
            for (customer, currency), amount in projected.items()
        }

    def _open_holds_now(self, customer_id: str, arrived: Moment) -> tuple[HoldIndex, datetime]:
        """The index of the customer's Holds as of `arrived`, and the moment
        that says which of them are open."""
        with self._lock_of(customer_id):  # the cached Holds, brought up to date (a gateway reads this often)
            head = self.store.head_since(arrived)  # read before the holds are: they include all up to it
            cached = self._holds_cache.get(customer_id)
            if cached is None or self._holds_current_at.get(customer_id) != head:
                cached = self._holds(customer_id)
                self._holds_current_at[customer_id] = head
            return self._index(cached), self.clock()  # unchanged since: nothing was appended since they were read

    def _now(self, customer: Customer, index: HoldIndex, now: datetime, arrived: Moment) -> tuple[Decimal, Decimal]:
        projected, tail, held = self._read_with_tail(
            customer,
            index,
            now,
            arrived,
            lambda asked, since: self.authorization_reads.balance(
                customer.customer_id, customer.currency, asked, since
            ),
        )
        return projected.balance + tail.balance_in(customer.currency), held

    def _read_with_tail(
        self,
        customer: Customer,
        index: HoldIndex,
        now: datetime,
        arrived: Moment,
        read: Callable[[list[str], int | None], ProjectedStanding],
        asking: str | None = None,
    ) -> tuple[ProjectedStanding, TailFigures, Decimal]:
        """What the read model says, the log's tail beyond its position, and
        what the holds open at `now` that usage has not captured keep back.

        The read model is asked which holds usage captured, in one of two
        ways per hold. A hold this process has not asked about yet (and
        `asking`, the id being decided) is asked by id. For the others, whose
        captures are known up to the position of the last read, the read
        asks for the customer's captures after that position. So a
        customer's open holds that usage never captures (an operator that
        authorizes and voids, or lets them expire) are not sent again at
        every decision, and nothing here walks them (application/hold_index.py)."""
        customer_id = customer.customer_id
        with self._lock_of(customer_id):
            new, since = index.to_ask(now)
            moment = index.moment(now)
            asking_known = asking is not None and asking in self._known_captured.get(customer_id, ())
        if asking is not None and not asking_known:
            new.add(asking)
        began = time.monotonic()
        projected = read(sorted(new), since)
        if projected.head is not None:  # read in the same snapshot: the head for the tail and the reference data
            self.store.observed_head(projected.head, began)
        tail = self.log_tail.figures(customer_id, projected.position, arrived)
        captured = projected.captured | tail.captured
        with self._lock_of(customer_id):
            held = index.held_after(moment, captured, now)  # before this read's captures are marked
            current = self._indexes.get(customer_id, index)  # rebuilt meanwhile, perhaps (balance reads ask unlocked)
            self._captured_among(customer_id, current).update(captured)
            index.mark_captured(captured)
            if current is not index:
                current.mark_captured(captured)
            current.covered(new, since, projected.position)
        return projected, tail, held

    def _known_captured_now(self, customer_id: str, authorization_id: str) -> bool:
        """Whether this process has seen a usage of the customer name the id
        (what the standing read just asked is in it)."""
        with self._lock_of(customer_id):
            return authorization_id in self._known_captured.get(customer_id, ())

    def _sweepable(self, customer_id: str, holds: Holds) -> list[str]:
        """The customer's holds this process has seen captured, once there are
        SWEEP_AT of them (used under the customer's lock)."""
        captured = self._known_captured.get(customer_id, set()) & holds.holds.keys()
        return sorted(captured) if len(captured) >= SWEEP_AT else []

    def _captured_among(self, customer_id: str, index: HoldIndex) -> set[str]:
        """This process's set of the customer's holds known captured (used
        under the customer's lock), rid of holds no longer in the index once
        it outgrows them."""
        known = self._known_captured.setdefault(customer_id, set())
        if len(known) > 2 * len(index) + 64:
            # In place: the index shares this set, and `known &= ...` made a
            # new set (a set's &= takes only sets), so what the caller then
            # added was lost and a busy customer's captured holds were asked
            # about again.
            known.intersection_update(index.keys())
        return known


class _CustomerChanged(Exception):
    """The customer changed after the copy a decision began with: decide again on this one."""

    def __init__(self, customer: Customer) -> None:
        super().__init__(customer.customer_id)
        self.customer = customer


def limit_period(period: str, now: datetime) -> tuple[datetime, datetime]:
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    return period_bounds(period_of(now))


def parse_limits(limits: Mapping[str, Any]) -> dict[str, Any]:
    period = limits.get("period", "month")
    if period not in LIMIT_PERIODS:
        raise ValidationFailed("period is day or month", [{"loc": "period", "msg": "unknown period"}])
    parsed: dict[str, Any] = {"period": period}
    for name in ("soft_limit", "hard_limit", "low_balance"):
        value = limits.get(name)
        parsed[name] = None if value is None else str(validation.amount(value, name, positive=name != "low_balance"))
    if parsed["soft_limit"] and parsed["hard_limit"] and Decimal(parsed["soft_limit"]) > Decimal(parsed["hard_limit"]):
        raise ValidationFailed("soft_limit is at most hard_limit", [{"loc": "soft_limit", "msg": "above hard"}])
    thresholds = limits.get("alert_thresholds_percent") or []
    if len(thresholds) > 20 or any(
        not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= 1000 for t in thresholds
    ):
        raise ValidationFailed(
            "alert_thresholds_percent: up to 20 whole percentages, 1 to 1000",
            [{"loc": "alert_thresholds_percent", "msg": "invalid"}],
        )
    parsed["alert_thresholds_percent"] = sorted(set(thresholds))
    return parsed
