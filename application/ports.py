"""What the application needs from the outside, as protocols. infrastructure/
and projections/ implement them; the composition root wires them in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from domain.holds import ProjectedStanding
from domain.rerating import RatedWith
from domain.usage import RecordedUsage

Clock = Callable[[], datetime]
# A reading of time.monotonic(), in seconds: when a request arrived, when a
# read of the log began. Only ever compared with other readings, never money.
Moment = float


class EventLog(Protocol):
    """The one log, read in order: how policies and the authorization's
    log tail follow it (application/event_store.py implements it)."""

    def head(self) -> int:
        """The position of the last event (0 when empty)."""
        ...

    def head_since(self, moment: Moment) -> int:
        """The head from a read that began after `moment` (time.monotonic())."""
        ...

    def read(
        self, after: int, limit: int, topics: Sequence[str] = (), stop: int | None = None
    ) -> list[tuple[int, Any]]:
        """(position, domain event) pairs after `after`, up to `stop`, `limit` at most."""
        ...

    def decode(self, stored: Any) -> Any:
        """The domain event of a stored event this process appended (a
        Recording's notification)."""
        ...


class UsageIndex(Protocol):
    """Finds which usage aggregates already exist, with their body fingerprints:
    one query for a whole batch, before saving it."""

    def existing(self, usage_ids: Sequence[UUID]) -> dict[UUID, str]: ...


class PriceCatalog(Protocol):
    """A maintained model price catalog that works offline."""

    def source(self) -> str: ...

    def rates(self, providers: Sequence[str], at: datetime) -> list[dict[str, object]]: ...

    def change_dates(self, providers: Sequence[str], since: datetime, until: datetime) -> list[datetime]:
        """The moments in (since, until) at which the catalog's prices for
        these providers changed."""
        ...


class UsageHistory(Protocol):
    """Recorded usage by time, from the read model, a page at a time."""

    def usage_between(
        self, customer: str | None, start: datetime, end: datetime, after: str, limit: int
    ) -> list[tuple[str, RecordedUsage]]:
        """(cursor, usage) pairs with start <= occurred_at < end, after `after`."""
        ...

    def usage_of(
        self,
        customers: list[str],
        start: datetime,
        end: datetime,
        after: str,
        limit: int,
        not_rated_with: RatedWith | None = None,
    ) -> list[tuple[str, RecordedUsage]]:
        """The same for a set of customers; with `not_rated_with`, without the
        usage whose latest rating used that version or a later one of the same
        price book or plan (unpriced usage always comes)."""
        ...

    def changed_months(self, after: int, upto: int) -> list[tuple[str, str]]:
        """(customer, YYYY-MM) of the usage recorded or re-rated at read-model
        positions in (after, upto]."""
        ...

    def unpriced_changed(self, after: int, upto: int) -> dict[str, int]:
        """Per customer, the usage recorded or re-rated at read-model positions
        in (after, upto] that is unpriced now."""
        ...

    def months_of(self, customer: str, since: datetime) -> list[str]:
        """The months (YYYY-MM) in which a customer has usage at or after `since`."""
        ...

    def tiered_cost(self, customer: str, start: datetime, end: datetime) -> Decimal:
        """The cost of a customer's usage in [start, end) that counts toward its tier ladder."""
        ...

    def tier_differences(self, customer: str | None, start: datetime, end: datetime) -> Decimal:
        """What tier settlements posted, in all, for the months that begin in [start, end)."""
        ...

    def position(self) -> int:
        """The last notification the read model has applied."""
        ...


class Checkpoints(Protocol):
    """Where a log-following policy keeps its position."""

    def get(self, name: str) -> int: ...

    def put(self, name: str, position: int) -> None: ...


@dataclass(frozen=True)
class PaymentOutcome:
    """What the payment processor answered: `succeeded`, `failed` (with why),
    or `pending` (no final answer yet: a webhook will bring it)."""

    status: str
    payment_intent: str | None = None
    charge: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


class PaymentGateway(Protocol):
    """Charges a customer's card on file, off-session (Stripe here)."""

    def charge(
        self,
        *,
        stripe_customer: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> PaymentOutcome: ...

    def payment_metadata(self, payment_intent: str) -> dict[str, str]:
        """The metadata tally put on a payment, looked up by its id."""
        ...


@dataclass(frozen=True)
class PaymentNotice:
    """A verified notification from the card processor, in tally's terms:
    `payment` (an outcome), `refund` (the charge's refunded total so far) or
    `dispute`. `target` is what tally charged for: ("top_up" | "invoice",
    customer, id), from the payment's metadata when the notice carries it."""

    event_id: str
    kind: str
    payment_intent: str | None
    charge: str | None
    target: tuple[str, str, str] | None
    outcome: PaymentOutcome | None = None
    refunded_total: Decimal | None = None
    dispute: str | None = None
    dispute_amount: Decimal | None = None


class BillingReads(Protocol):
    """What billing reads from the read model (projections/billing_queries.py)."""

    def snapshot(self, customer: str, account: str, start: datetime, end: datetime, earlier: Sequence[Any]) -> Any:
        """The lines, tier settlements and corrections an invoice covers, read at one position."""
        ...

    def invoices_of(self, customer: str) -> list[dict[str, Any]]: ...

    def due_attempts(self, now: datetime) -> list[str]: ...

    def unpaid_statuses(self, customer: str) -> set[str]: ...


class WalletReads(Protocol):
    """What the wallet policies read from the read model (projections/billing_queries.py)."""

    def expiring_grants(self, now: datetime) -> list[tuple[str, str]]: ...

    def grants_of(self, customer: str) -> list[dict[str, Any]]: ...

    def spent(self, customer: str, wallet: str, as_of: datetime) -> Decimal: ...

    def balance(self, customer: str, currency: str) -> Decimal: ...

    def top_ups_of(self, customer: str, limit: int) -> list[dict[str, Any]]: ...

    def auto_top_ups(self, customer: str) -> list[dict[str, Any]]: ...


class AuthorizationReads(Protocol):
    """What authorizations read (projections/authorization_queries.py)."""

    def standing(
        self,
        customer: str,
        currency: str,
        holds: Sequence[str],
        start: datetime,
        end: datetime,
        since: int | None = None,
    ) -> ProjectedStanding:
        """The balance, the holds among `holds` usage captured (and any
        captured after position `since`), the spend in [start, end) and
        whether an invoice is past due, at one moment."""
        ...

    def balance(
        self, customer: str, currency: str, holds: Sequence[str], since: int | None = None
    ) -> ProjectedStanding:
        """The balance and the holds among `holds` usage captured (and any
        captured after position `since`), at one moment (a standing without
        spend or past-due status)."""
        ...

    def captured(self, authorization_id: str, customer: str) -> tuple[bool, int]:
        """Whether a usage of the customer named the authorization, and the read model's position."""
        ...


class WebhookSender(Protocol):
    def send(self, url: str, secret: str, message_id: str, payload: str) -> tuple[int | None, str | None]:
        """POST a signed message: (status code, None), or (None, the error) when nothing answered."""
        ...


class AlertReads(Protocol):
    """What alerting and webhook deliveries read (projections/alert_queries.py)."""

    def daily_spend(self, customer: str, first: str, last: str) -> dict[str, tuple[Decimal, int]]:
        """Per day (YYYY-MM-DD) in [first, last]: the charge and the count of unpriced events."""
        ...

    def first_day(self, customer: str) -> str | None:
        """The first day (YYYY-MM-DD) the customer had usage."""
        ...

    def alerts_of(self, customer: str, limit: int) -> list[dict[str, Any]]: ...

    def due_deliveries(self, now: datetime) -> list[tuple[str, str]]: ...
