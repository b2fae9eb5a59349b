"""Authorizations and the holds they place: the real-time wall in front of
a model call.

`Holds` is one aggregate per customer: the serialisation point of its
authorizations. Approving is one atomic append of the Authorization (its
answer) and of the hold on this aggregate at its next version, so two
concurrent authorizations can never both pass on money that covers one: the
second's append conflicts, and it decides again on the new state.

A hold is open until it expires, is voided, or is captured by the usage
event that names it (the read model sees the capture and the charge in the
same transaction, so a captured hold and its charge are never both counted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identifiers import aggregate_id
from domain.invariants import require
from domain.money import ZERO

DENIAL_CODES = ("insufficient_funds", "spending_limit_exceeded", "account_past_due")


@dataclass(frozen=True)
class Standing:
    """What an authorization is decided on, read at one moment."""

    billing: str
    balance: Decimal  # the projected balance (prepaid: the wallet)
    held: Decimal  # open holds not yet captured
    period_spend: Decimal  # spend in the limit's period so far
    hard_limit: Decimal | None
    past_due: bool


@dataclass(frozen=True)
class ProjectedStanding:
    """What the read model says of a customer, read in one snapshot, and the
    position in the log it has applied up to."""

    balance: Decimal
    captured: set[str]  # the holds, among those asked about, that usage captured
    spend: Decimal  # in the period asked about
    past_due_invoices: set[str]  # the customer's invoices past due
    position: int
    # The log's head in the same snapshot, when the read model lives beside
    # the log and the read asked for it: every event committed before the
    # read began is at or below it, so it serves as the head a decision adds
    # the log's tail up to, without a query of its own.
    head: int | None = None


@dataclass(frozen=True)
class Decision:
    approved: bool
    code: str | None
    detail: str
    available: Decimal


def decide(amount: Decimal, standing: Standing) -> Decision:
    """Approve `amount` only if the money and the limits cover it. Exactly
    at a limit passes; a unit over does not."""
    require(amount > ZERO, amount)
    available = standing.balance - standing.held
    if standing.past_due:
        return Decision(False, "account_past_due", "an invoice is past due: settle it to spend again", available)
    if standing.hard_limit is not None and standing.period_spend + standing.held + amount > standing.hard_limit:
        headroom = standing.hard_limit - standing.period_spend - standing.held
        return Decision(
            False, "spending_limit_exceeded", f"the hard limit leaves {max(headroom, ZERO)} for this period", available
        )
    if standing.billing == "prepaid" and available - amount < ZERO:
        return Decision(False, "insufficient_funds", f"{available} is available, {amount} was asked", available)
    return Decision(True, None, "approved", available - amount)


class Authorization(Aggregate):
    @staticmethod
    def create_id(authorization_id: str) -> UUID:
        return aggregate_id("authorization", authorization_id)

    @event("Decided")
    def __init__(
        self,
        authorization_id: str,
        customer: str,
        fingerprint: str,
        amount: str,
        approved: bool,
        code: str | None,
        detail: str,
        available: str,
        expires_at: datetime,
        decided_at: datetime,
    ) -> None:
        self.authorization_id = authorization_id
        self.customer = customer
        self.fingerprint = fingerprint
        self.amount = Decimal(amount)
        self.approved = approved
        self.code = code
        self.detail = detail
        self.available = Decimal(available)
        self.expires_at = expires_at
        self.decided_at = decided_at
        self.voided = False

    @event("Voided")
    def void(self, at: datetime) -> None:
        self.voided = True

    def status(self, now: datetime, captured: bool) -> str:
        if not self.approved:
            return "denied"
        if captured:
            return "captured"
        if self.voided:
            return "voided"
        return "expired" if self.expires_at <= now else "approved"


class Holds(Aggregate):
    @staticmethod
    def create_id(customer: str) -> UUID:
        return aggregate_id("holds", customer)

    @event("Opened")
    def __init__(self, customer: str) -> None:
        self.customer = customer
        self.holds: dict[str, dict[str, Any]] = {}
        self.forget_at = 0  # how many holds make the next event forget the expired ones

    @event("Placed")
    def place(self, authorization_id: str, amount: str, expires_at: datetime, at: datetime) -> None:
        self._forget_expired(at)
        self.holds[authorization_id] = {"amount": Decimal(amount), "expires_at": expires_at}

    @event("Released")
    def release(self, authorization_id: str, at: datetime) -> None:
        self._forget_expired(at)
        self.holds.pop(authorization_id, None)

    @event("Swept")
    def sweep(self, authorization_ids: list[str], at: datetime) -> None:
        """Forget holds that usage has captured: a captured hold holds nothing
        (its charge is in the balance), and kept until it expires (an hour
        for a gateway's) every decision would walk it, and every snapshot
        carry it."""
        self._forget_expired(at)
        for key in authorization_ids:
            self.holds.pop(key, None)

    def open_holds(self, now: datetime) -> dict[str, Decimal]:
        """Holds not expired by `now` (a hold expires at its expiry moment)."""
        return {key: hold["amount"] for key, hold in self.holds.items() if hold["expires_at"] > now}

    def _forget_expired(self, at: datetime) -> None:
        """Keep the state small: an expired hold holds nothing (events stay).

        Walking every hold at every event made each placement cost a
        microsecond per open hold (and a replay of n placements n squared),
        so the walk is made only once the holds have doubled since the last
        one: expired holds stay at most that long, and `open_holds` leaves
        them out. The rule depends on the events alone, so a replay keeps
        the same holds; a snapshot taken before it (no `forget_at`) walks at
        its next event."""
        if len(self.holds) < getattr(self, "forget_at", 0):
            return
        for key in [key for key, hold in self.holds.items() if hold["expires_at"] <= at]:
            del self.holds[key]
        self.forget_at = 2 * len(self.holds) + 16
