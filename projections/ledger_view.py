"""The ledger read model: journal postings, account totals, customer
balances, daily usage rollups and the customer list, folded from a page of
domain events into one set of changes and written in one transaction.

Balances are never edited by commands: they are sums this view keeps, and
rebuilds from the stream at will."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

from eventsourcing.utils import get_topic

from domain.accounts import account_type
from domain.entries import charged_account, stored_entries_of
from domain.events import (
    AlertRaised,
    AuthorizationDecided,
    AuthorizationVoided,
    CardTopUpDisputed,
    CardTopUpFailed,
    CardTopUpRefunded,
    CardTopUpRequested,
    CardTopUpSucceeded,
    CustomerRegistered,
    CustomerUpdated,
    DeliveryAttempted,
    DeliveryScheduled,
    HoldPlaced,
    HoldReleased,
    HoldsOpened,
    HoldsSwept,
    InvoiceChargeFailed,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoiceReopened,
    TierSettled,
    TopUpExpired,
    TopUpGranted,
    UsageRecorded,
    UsageRerated,
    UsageUnpriced,
)
from domain.money import MONEY_CONTEXT, ZERO
from domain.pricing import UNITS
from domain.rating import line_charges
from domain.standing_changes import invoice_status_after
from projections.database import Cursor, Dialect

INVOICE_EVENTS = (InvoiceIssued, InvoiceChargeFailed, InvoiceMarkedUncollectible, InvoicePaid, InvoiceReopened)
TOP_UP_EVENTS = (
    TopUpGranted, TopUpExpired, CardTopUpRequested, CardTopUpSucceeded, CardTopUpFailed, CardTopUpRefunded,
    CardTopUpDisputed,
)  # fmt: skip
CUSTOMER_ACCOUNT_ROOTS = ("liabilities:wallet:", "assets:receivable:")
RERATED_COLUMNS = (
    "version", "price_book", "price_version", "plan", "plan_version", "currency", "cost", "charge", "tiered",
    "position",
)  # fmt: skip
USAGE_EVENTS = (UsageRecorded, UsageRerated, UsageUnpriced)
# Events no table of this view reads: an authorization's decision and void,
# and the customer's holds they move. None carries an entry, so folding one
# changes nothing (tests/integration/test_unread_events.py folds real ones);
# the follower passes over them without decoding them. Under a gateway's
# load they are two of every three events in the log.
UNREAD_EVENTS = (AuthorizationDecided, AuthorizationVoided, HoldsOpened, HoldPlaced, HoldReleased, HoldsSwept)
UNREAD_TOPICS = frozenset(get_topic(cls) for cls in UNREAD_EVENTS)
USAGE_JSON = json.JSONEncoder(sort_keys=True)  # json.dumps(usage, sort_keys=True), without building one per call


def usage_json(usage: dict[str, int]) -> str:
    """json.dumps(usage, sort_keys=True): written directly for the usual
    counts (known unit names, which need no escaping, and plain ints)."""
    if all(unit in UNITS and type(count) is int for unit, count in usage.items()):
        return "{" + ", ".join(f'"{unit}": {usage[unit]}' for unit in sorted(usage)) + "}"
    return USAGE_JSON.encode(usage)


def iso(moment: datetime) -> str:
    """Fixed-width UTC text: sorts as time does, in both stores. A moment whose
    UTC form falls outside years 1-9999 is clamped to the nearest end."""
    try:
        utc = moment.astimezone(UTC)
        if utc.year >= 1000:  # isoformat, cheaper, writes the same (strftime pads no year to four digits)
            return utc.isoformat(timespec="microseconds")[:26] + "Z"
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError:
        return "0001-01-01T00:00:00.000000Z" if moment.year < 5000 else "9999-12-31T23:59:59.999999Z"


def customer_of(account: str) -> str | None:
    for root in CUSTOMER_ACCOUNT_ROOTS:
        if account.startswith(root):
            return account[len(root) :]
    return None


@dataclass
class Changes:
    postings: list[tuple[Any, ...]] = field(default_factory=list)
    accounts: dict[tuple[str, str], list[Decimal]] = field(default_factory=lambda: defaultdict(lambda: [ZERO, ZERO]))
    balances: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    usage: dict[tuple[str, str, str, str, str], list[Any]] = field(default_factory=dict)
    customers: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    usage_events: list[tuple[Any, ...]] = field(default_factory=list)
    # per usage id, the columns of its usage_events row that the page's later ratings set, the last value winning
    rated: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per usage id, the position of a first rating in the page (kept only where the row has none yet)
    first_rated: dict[str, int] = field(default_factory=dict)
    charged_accounts: dict[str, str] = field(default_factory=dict)  # where a correction names one
    lines: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    relined: set[str] = field(default_factory=set)
    tier_months: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    invoices: list[tuple[Any, ...]] = field(default_factory=list)
    invoice_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    top_ups: list[tuple[Any, ...]] = field(default_factory=list)
    captures: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)  # by (customer, authorization)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    deliveries: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    delivery_updates: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    top_up_updates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class LedgerView:
    def __init__(self, prefix: str, dialect: Dialect) -> None:
        self.prefix = prefix
        self.dialect = dialect

    def fold(self, events: Sequence[tuple[int, Any]]) -> Changes:
        with localcontext(MONEY_CONTEXT):
            return self._fold(events)

    def _fold(self, events: Sequence[tuple[int, Any]]) -> Changes:
        changes = Changes()
        for position, event in events:
            if isinstance(event, UsageRecorded):  # the usual event: its id and moment written once
                usage_key, moment = str(event.originator_id), iso(event.occurred_at)
                self._fold_entries(changes, position, event, usage_key, moment)
                self._fold_usage(changes, event)
                changes.usage_events.append(_usage_row(position, event, usage_key, moment))
                changes.lines[usage_key] = _usage_lines(event, event.usage, event.rating, usage_key, moment)
                if event.authorization_id:  # the customer's first usage naming its hold captures it
                    capture = (event.customer, event.authorization_id, usage_key, position)
                    changes.captures.setdefault((event.customer, event.authorization_id), capture)
                continue
            self._fold_entries(changes, position, event)
            if isinstance(event, UsageRerated):
                self._fold_rerated(changes, position, event)
            elif isinstance(event, UsageUnpriced):
                self._fold_unpriced(changes, position, event)
            elif isinstance(event, (CustomerRegistered, CustomerUpdated)):
                self._fold_customer(changes, position, event)
            elif isinstance(event, TierSettled):
                self._fold_tiers(changes, position, event)
            elif isinstance(event, INVOICE_EVENTS):
                self._fold_invoice(changes, position, event)
            elif isinstance(event, TOP_UP_EVENTS):
                self._fold_top_up(changes, position, event)
            elif isinstance(event, AlertRaised):
                changes.alerts.append((
                    f"alrt_{event.originator_id.hex[:20]}", event.customer, event.kind, event.period,
                    event.threshold, event.message, event.value, iso(event.raised_at), position,
                ))  # fmt: skip
            elif isinstance(event, DeliveryScheduled):
                key = (event.endpoint_id, event.message_id)
                at = iso(event.at)
                changes.deliveries[key] = [
                    event.endpoint_id, event.message_id, event.event_type, "pending", 0, None, at, position,
                ]  # fmt: skip
            elif isinstance(event, DeliveryAttempted):
                self._fold_delivery(changes, position, event)
        return changes

    def _fold_entries(
        self, changes: Changes, position: int, event: Any, key: str | None = None, moment: str | None = None
    ) -> None:
        """The event's postings, read from its stored entries (balanced, as
        when they were posted: stored_entries_of refuses one that is not).
        `key` and `moment` are the event's id and iso(occurred_at) when the
        caller has them."""
        journals = stored_entries_of(event)
        if not journals:
            return
        cause = (type(event).__qualname__, key or str(event.originator_id), _cause_ref(event))
        posted_at = iso(event.timestamp)
        occurred_at = moment or _occurred_at(event, posted_at)
        seq = 0
        accounts = changes.accounts
        for kind, postings in journals:
            for debit, credit, amount, currency in postings:
                debtor, creditor = customer_of(debit), customer_of(credit)
                changes.postings.append(
                    (position, seq, kind, *cause, debtor or creditor, debit, credit, amount, currency, posted_at,
                     occurred_at)
                )  # fmt: skip
                seq += 1
                accounts[(debit, currency)][0] += amount
                accounts[(credit, currency)][1] += amount
                if debtor is not None:
                    self._fold_balance(changes, debtor, -amount, currency, posted_at)
                if creditor is not None:
                    self._fold_balance(changes, creditor, amount, currency, posted_at)

    @staticmethod
    def _fold_balance(changes: Changes, customer: str, delta: Decimal, currency: str, at: str) -> None:
        row = changes.balances.setdefault((customer, currency), [ZERO, at])
        row[0] += delta
        row[1] = max(row[1], at)

    @staticmethod
    def _rollup(
        changes: Changes, event: Any, *, events: int, unpriced: int, cost: Decimal, charge: Decimal, currency: str = ""
    ) -> None:
        """Add to the day's usage row of the event's customer, provider, model
        and feature (`currency` empty: the row keeps the one it has)."""
        day = event.occurred_at.astimezone(UTC).date().isoformat()
        key = (event.customer, day, event.provider, event.model, event.feature or "")
        row = changes.usage.setdefault(key, [0, 0, ZERO, ZERO, ""])
        row[0] += events
        row[1] += unpriced
        row[2] += cost
        row[3] += charge
        if currency:
            row[4] = currency

    def _fold_usage(self, changes: Changes, event: Any) -> None:
        rating = event.rating
        if rating is None:
            self._rollup(changes, event, events=1, unpriced=1, cost=ZERO, charge=ZERO)
        else:
            cost, charge = Decimal(rating["cost"]), Decimal(rating["charge"])
            self._rollup(changes, event, events=1, unpriced=0, cost=cost, charge=charge, currency=rating["currency"])

    def _fold_rerated(self, changes: Changes, position: int, event: Any) -> None:
        rating = event.rating
        first = event.replaces is None  # usage that was counted unpriced gets its first rating (again)
        self._rollup(
            changes,
            event,
            events=0,
            unpriced=-1 if first else 0,
            cost=Decimal(event.delta_cost),
            charge=Decimal(event.delta_charge),
            currency=rating["currency"],
        )
        usage_key = str(event.originator_id)
        changes.relined.add(usage_key)
        quantities = {line["unit"]: line["quantity"] for line in rating["lines"]}
        changes.lines[usage_key] = _usage_lines(event, quantities, rating)
        columns = changes.rated.setdefault(usage_key, {})
        columns.update(
            version=event.originator_version, price_book=rating["price_book"], price_version=rating["price_version"],
            plan=rating["plan"], plan_version=rating["plan_version"], currency=rating["currency"],
            cost=Decimal(rating["cost"]), charge=Decimal(rating["charge"]), tiered=int(bool(rating.get("tiered"))),
            position=position,
        )  # fmt: skip
        charged = charged_account(event.adjustment)
        if first and charged is not None:  # a first rating names the account charged; a correction keeps it
            columns["account"] = charged
        elif charged is not None:  # ...unless it has none: a first rating at a free price charged no account
            changes.charged_accounts.setdefault(usage_key, charged)
        if first:  # the first rating ever bills the usage; a later one (after an unpricing) is a correction of it
            changes.first_rated.setdefault(usage_key, position)

    def _fold_unpriced(self, changes: Changes, position: int, event: Any) -> None:
        """Usage the versions in force no longer price: counted unpriced again,
        its charge and cost out of the rollups, lines and tier ladder. The row
        keeps the account charged and the position first rated at, which
        billing reads to credit the invoice that billed it."""
        self._rollup(
            changes,
            event,
            events=0,
            unpriced=1,
            cost=Decimal(event.delta_cost),
            charge=Decimal(event.delta_charge),
        )
        usage_key = str(event.originator_id)
        changes.relined.add(usage_key)
        changes.lines[usage_key] = _usage_lines(event, event.usage, None)
        changes.rated.setdefault(usage_key, {}).update(
            version=event.originator_version, price_book=None, price_version=None, plan=None, plan_version=None,
            currency=None, cost=None, charge=None, tiered=0, position=position,
        )  # fmt: skip

    @staticmethod
    def _fold_tiers(changes: Changes, position: int, event: Any) -> None:
        """A month's tier settlement as it last stood (each event states the whole)."""
        previous = changes.tier_months.get((event.customer, event.period))
        closed = int(event.closes or event.late or bool(previous and previous[5]))
        row = (
            event.customer, event.period, event.currency, Decimal(event.tiered_cost), Decimal(event.difference), closed
        )  # fmt: skip
        changes.tier_months[(event.customer, event.period)] = (*row, position)

    @staticmethod
    def _fold_invoice(changes: Changes, position: int, event: Any) -> None:
        if isinstance(event, InvoiceIssued):
            figures = event.figures
            changes.invoices.append((
                event.invoice_id, str(event.originator_id), event.customer, event.kind, event.billing, event.currency,
                iso(event.period_start), iso(event.period_end), event.cut, Decimal(figures["total"]),
                Decimal(figures["amount_due"]), ZERO, Decimal(figures["credit_carried"]),
                invoice_status_after(event),
                iso(event.due_at) if event.due_at else None, None, iso(event.issued_at), position,
            ))  # fmt: skip
            return
        update = changes.invoice_updates.setdefault(event.invoice_id, {})
        update["position"] = position
        update["status"] = invoice_status_after(event)  # as an authorization reads it in the log's tail
        if isinstance(event, InvoiceChargeFailed):
            update["next_attempt_at"] = iso(event.next_attempt_at) if event.next_attempt_at else None
        elif isinstance(event, InvoiceMarkedUncollectible):
            update["next_attempt_at"] = None
        elif isinstance(event, InvoicePaid):
            update["amount_paid"] = Decimal(event.amount_paid_after)
            if event.status_after == "paid":
                update["next_attempt_at"] = None
        elif isinstance(event, InvoiceReopened):
            update["amount_paid"] = Decimal(event.amount_paid_after)

    @staticmethod
    def _fold_top_up(changes: Changes, position: int, event: Any) -> None:
        if isinstance(event, (TopUpGranted, CardTopUpRequested)):
            granted = isinstance(event, TopUpGranted)
            changes.top_ups.append((
                event.customer, event.top_up_id, "grant" if granted else "stripe", int(not granted and event.automatic),
                Decimal(event.amount), event.currency, "succeeded" if granted else "pending",
                iso(event.expires_at) if granted and event.expires_at else None, None, ZERO, ZERO,
                iso(event.timestamp if granted else event.requested_at), position,
            ))  # fmt: skip
            return
        update = changes.top_up_updates.setdefault((event.customer, event.top_up_id), {"disputed": ZERO})
        update["position"] = position
        if isinstance(event, TopUpExpired):
            update["expired"] = Decimal(event.amount)
        elif isinstance(event, CardTopUpSucceeded):
            update["status"] = "succeeded"
        elif isinstance(event, CardTopUpFailed):
            update["status"] = "failed"
        elif isinstance(event, CardTopUpRefunded):
            update["refunded"] = Decimal(event.refunded_total)
        elif isinstance(event, CardTopUpDisputed):
            update["disputed"] += Decimal(event.amount)

    @staticmethod
    def _fold_delivery(changes: Changes, position: int, event: Any) -> None:
        """Each attempt states the delivery's whole state: it is written over the row."""
        key = (event.endpoint_id, event.message_id)
        next_at = iso(event.next_attempt_at) if event.next_attempt_at else None
        values = [event.status, event.attempt, event.status_code, next_at, position]
        if key in changes.deliveries:  # scheduled in this same page
            changes.deliveries[key][3:8] = values
        else:
            changes.delivery_updates[key] = values

    def _write_top_ups(self, cursor: Cursor, changes: Changes) -> None:
        p, add = self.prefix, self.dialect.add
        cursor.insert_rows(f"{p}top_ups", changes.top_ups)
        for (customer, top_up_id), update in changes.top_up_updates.items():
            names = sorted(name for name in update if name != "disputed")
            assignments = [f"{name} = ?" for name in names] + [f"disputed = {add('disputed', '?')}"]
            cursor.execute(
                f"UPDATE {p}top_ups SET {', '.join(assignments)} WHERE customer = ? AND top_up_id = ?",
                (*(update[name] for name in names), update["disputed"], customer, top_up_id),
            )

    def _write_invoices(self, cursor: Cursor, changes: Changes) -> None:
        p = self.prefix
        cursor.insert_rows(f"{p}invoices", changes.invoices)
        for invoice_id, update in changes.invoice_updates.items():
            names = sorted(update)
            assignments = ", ".join(f"{name} = ?" for name in names)
            cursor.execute(
                f"UPDATE {p}invoices SET {assignments} WHERE invoice_id = ?",
                (*(update[name] for name in names), invoice_id),
            )

    def _write_lines(self, cursor: Cursor, changes: Changes) -> None:
        """A usage event's lines are replaced whole when it is re-rated."""
        p = self.prefix
        cursor.delete_rows(f"{p}usage_lines", "usage_id", sorted(changes.relined))
        cursor.insert_rows(f"{p}usage_lines", [row for rows in changes.lines.values() for row in rows])

    @staticmethod
    def _fold_customer(changes: Changes, position: int, event: Any) -> None:
        if isinstance(event, CustomerRegistered):
            row = (
                event.customer_id,
                str(event.originator_id),
                event.name,
                event.currency,
                event.plan,
                event.billing,
                "active",
                iso(event.timestamp),
                position,
            )
            changes.customers.append(("insert", row))
        else:
            changes.customers.append(("update", (event.name, event.plan, event.billing, str(event.originator_id))))

    def write(self, cursor: Cursor, changes: Changes) -> None:
        p, add, greatest = self.prefix, self.dialect.add, self.dialect.greatest
        cursor.insert_rows(f"{p}postings", changes.postings)
        cursor.insert_rows(
            f"{p}accounts",
            [
                (account, currency, account_type(account).value, debits, credits)
                for (account, currency), (debits, credits) in sorted(changes.accounts.items())
            ],
            "ON CONFLICT (account, currency) DO UPDATE SET "
            f"debits = {add(p + 'accounts.debits', 'excluded.debits')}, "
            f"credits = {add(p + 'accounts.credits', 'excluded.credits')}",
        )
        cursor.insert_rows(
            f"{p}balances",
            [(c, cur, delta, at) for (c, cur), (delta, at) in sorted(changes.balances.items())],
            "ON CONFLICT (customer, currency) DO UPDATE SET "
            f"balance = {add(p + 'balances.balance', 'excluded.balance')}, "
            f"updated_at = {greatest(p + 'balances.updated_at', 'excluded.updated_at')}",
        )
        cursor.insert_rows(
            f"{p}usage_daily",
            [
                (*key, currency, events, unpriced, cost, charge)
                for key, (events, unpriced, cost, charge, currency) in sorted(changes.usage.items())
            ],
            "ON CONFLICT (customer, day, provider, model, feature) DO UPDATE SET "
            f"events = {p}usage_daily.events + excluded.events, "
            f"unpriced = {p}usage_daily.unpriced + excluded.unpriced, "
            f"cost = {add(p + 'usage_daily.cost', 'excluded.cost')}, "
            f"charge = {add(p + 'usage_daily.charge', 'excluded.charge')}, "
            f"currency = CASE WHEN excluded.currency = '' THEN {p}usage_daily.currency ELSE excluded.currency END",
        )
        cursor.insert_rows(f"{p}usage_events", changes.usage_events)
        self._write_lines(cursor, changes)
        self._write_ratings(cursor, changes)
        self._write_customers(cursor, changes)
        cursor.insert_rows(
            f"{p}tier_months",
            list(changes.tier_months.values()),
            "ON CONFLICT (customer, period) DO UPDATE SET tiered_cost = excluded.tiered_cost, "
            f"difference = excluded.difference, closed = {greatest(p + 'tier_months.closed', 'excluded.closed')}, "
            "position = excluded.position",
        )
        self._write_invoices(cursor, changes)
        self._write_top_ups(cursor, changes)
        cursor.insert_rows(
            f"{p}hold_captures", list(changes.captures.values()), "ON CONFLICT (customer, authorization_id) DO NOTHING"
        )
        cursor.insert_rows(f"{p}alerts", changes.alerts)
        cursor.insert_rows(f"{p}deliveries", [tuple(row) for row in changes.deliveries.values()])
        for (endpoint_id, message_id), values in changes.delivery_updates.items():
            cursor.execute(
                f"UPDATE {p}deliveries SET status = ?, attempts = ?, last_status_code = ?, next_attempt_at = ?, "
                "position = ? WHERE endpoint_id = ? AND message_id = ?",
                (*values, endpoint_id, message_id),
            )

    def _write_ratings(self, cursor: Cursor, changes: Changes) -> None:
        """Each re-rated usage's row as the page's last rating left it, one bulk
        update per set of columns; the position of a first rating only where
        the row has none (a usage first rated, unpriced and rated again keeps
        the position of the rating that billed it first)."""
        p = self.prefix
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for usage_key, columns in changes.rated.items():
            names = tuple(name for name in (*RERATED_COLUMNS, "account") if name in columns)
            assert set(RERATED_COLUMNS) <= set(names), "every rating sets all of its columns"
            by_columns[names].append((*(columns[name] for name in names), usage_key))
        for names, rows in sorted(by_columns.items()):
            cursor.update_rows(f"{p}usage_events", "usage_id", names, rows)
        if changes.charged_accounts:
            cursor.executemany(
                f"UPDATE {p}usage_events SET account = COALESCE(account, ?) WHERE usage_id = ?",
                [(account, usage_key) for usage_key, account in changes.charged_accounts.items()],
            )
        if changes.first_rated:
            cursor.executemany(
                f"UPDATE {p}usage_events SET rated_position = COALESCE(rated_position, ?) WHERE usage_id = ?",
                [(position, usage_key) for usage_key, position in changes.first_rated.items()],
            )

    def _write_customers(self, cursor: Cursor, changes: Changes) -> None:
        p = self.prefix
        for operation, row in changes.customers:
            if operation == "insert":
                cursor.execute(f"INSERT INTO {p}customers VALUES (?,?,?,?,?,?,?,?,?)", row)
            else:
                cursor.execute(f"UPDATE {p}customers SET name = ?, plan = ?, billing = ? WHERE aggregate_id = ?", row)


def _usage_lines(
    event: Any, usage: dict[str, int], rating: dict[str, Any] | None, key: str | None = None, moment: str | None = None
) -> list[tuple[Any, ...]]:
    """Per unit: quantity, cost and a share of the charge (zero while unpriced)."""
    moment, feature = moment or iso(event.occurred_at), event.feature or ""
    key = key or str(event.originator_id)
    head = (event.customer, moment, event.provider, event.model, feature)
    if rating is None:
        return [(key, unit, *head, quantity, ZERO, ZERO) for unit, quantity in sorted(usage.items()) if quantity]
    lines = rating["lines"]
    costs = [Decimal(line["cost"]) for line in lines]
    shares = line_charges(Decimal(rating["charge"]), Decimal(rating["cost"]), costs)
    return [
        (key, line["unit"], *head, line["quantity"], cost, share)
        for line, cost, share in zip(lines, costs, shares, strict=True)
    ]


def _usage_row(position: int, event: Any, key: str, moment: str) -> tuple[Any, ...]:
    """One row per usage event, with its latest rating: what re-rating and
    what-if simulations read instead of loading aggregates. `key` and
    `moment` are its id and iso(occurred_at)."""
    rating = event.rating or {}
    return (
        key, event.customer, event.event_id, moment, event.provider,
        event.model, event.feature, usage_json(event.usage), event.originator_version,
        rating.get("price_book"), rating.get("price_version"), rating.get("plan"), rating.get("plan_version"),
        rating.get("currency"), Decimal(rating["cost"]) if rating else None,
        Decimal(rating["charge"]) if rating else None,
        charged_account(rating["entry"]) if rating else None, int(bool(rating.get("tiered"))),
        position if rating else None, position,
    )  # fmt: skip


def _occurred_at(event: Any, posted_at: str) -> str:
    """The moment a posting's business fact belongs to: a usage's own moment
    (for its charge and any correction of it), a tier settlement's month,
    otherwise when it was posted. Invoices select postings by it."""
    if isinstance(event, USAGE_EVENTS):
        return iso(event.occurred_at)
    if isinstance(event, TierSettled):
        return f"{event.period}-01T00:00:00.000000Z"
    return posted_at


def _cause_ref(event: Any) -> str:
    if isinstance(event, UsageRecorded):
        return f"usage:{event.customer}:{event.event_id}"
    if isinstance(event, (UsageRerated, UsageUnpriced)):
        return f"rerating:{event.customer}:{event.event_id}"
    if isinstance(event, TierSettled):
        return f"tiers:{event.customer}:{event.period}"
    if hasattr(event, "top_up_id"):
        return f"top-up:{event.customer}:{event.top_up_id}"
    if hasattr(event, "invoice_id"):
        return f"invoice:{event.customer}:{event.invoice_id}"
    return f"{type(event).__qualname__}:{event.originator_id}"
