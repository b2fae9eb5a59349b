"""What billing reads from the read model: in one consistent snapshot, the
usage, tier settlements and corrections an invoice covers; the invoices a
customer has; the card charges due for another attempt.

Which postings an invoice covers is decided by two numbers of each invoice:
`cut`, the read-model position it was read at, and its period's end. An
invoice covers the usage first rated at or before its cut that happened
before its period's end, less what the previous invoice covered. So usage
that arrives late for an invoiced period falls to the next invoice (marked
late), and a re-rating of invoiced usage becomes a note on the invoice
that billed it, carried by the next one. Nothing is billed twice or lost.

"First rated" is the first rating a usage ever had: usage that is unpriced
again (a backdated version without its model) keeps it, so its reversal is
a credit note on the invoice that billed it, and a later first rating of it
a debit note on that same invoice. Usage unpriced at the cut has no line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.events import UsageRerated, UsageUnpriced
from domain.invoice import Covered
from domain.money import ZERO
from projections.database import Database
from projections.ledger_view import iso
from projections.queries import dec
from projections.schema import VIEW_NAME

# The events whose entries change an earlier rating's amounts: corrections,
# unpricings and the first rating of usage unpriced since it was billed.
RATING_CHANGES = tuple(event.__qualname__ for event in (UsageRerated, UsageUnpriced))


@dataclass(frozen=True)
class BillingSnapshot:
    cut: int
    lines: list[dict[str, Any]]
    tiers: list[dict[str, Any]]
    corrections: list[dict[str, Any]]  # per earlier invoice and model: the re-rating differences since


class BillingQueries:
    def __init__(self, database: Database, prefix: str) -> None:
        self.database = database
        self.prefix = prefix

    def snapshot(
        self, customer: str, account: str, start: datetime, end: datetime, earlier: Sequence[Covered]
    ) -> BillingSnapshot:
        p, total = self.prefix, self.database.dialect.sum
        previous = earlier[-1] if earlier else None
        prev_cut, prev_end = (previous.cut, iso(previous.end)) if previous else (0, iso(start.replace(year=1)))
        with self.database.snapshot() as cursor:
            cursor.execute(f"SELECT position FROM {p}tracking WHERE name = ?", (VIEW_NAME,))
            cut = int(cursor.fetchone()[0])
            cursor.execute(
                f"SELECT l.provider, l.model, l.unit, CASE WHEN l.occurred_at < ? THEN 1 ELSE 0 END, "
                f"SUM(l.quantity), {total('l.cost')}, {total('l.charge')} "
                f"FROM {p}usage_lines l JOIN {p}usage_events e ON e.usage_id = l.usage_id "
                "WHERE e.customer = ? AND e.account = ? AND e.rated_position <= ? AND e.occurred_at < ? "
                "AND e.charge IS NOT NULL AND NOT (e.rated_position <= ? AND e.occurred_at < ?) "
                "GROUP BY 1, 2, 3, 4 ORDER BY 4, 1, 2, 3",
                (iso(start), customer, account, cut, iso(end), prev_cut, prev_end),
            )
            lines = [_line(row) for row in cursor.fetchall()]
            cursor.execute(
                f"SELECT occurred_at, debit, amount FROM {p}postings "
                "WHERE customer = ? AND kind = 'tiers' AND (debit = ? OR credit = ?) AND position <= ? "
                "AND occurred_at < ? AND NOT (position <= ? AND occurred_at < ?) ORDER BY position",
                (customer, account, account, cut, iso(end), prev_cut, prev_end),
            )
            tiers = _tier_lines(cursor.fetchall(), account, start)
            corrections: list[dict[str, Any]] = []
            if previous is not None:
                cursor.execute(
                    f"SELECT e.rated_position, e.occurred_at, e.provider, e.model, p.debit, p.amount "
                    f"FROM {p}postings p JOIN {p}usage_events e ON e.usage_id = p.cause_id "
                    "WHERE p.customer = ? AND p.cause_type IN (?, ?) AND (p.debit = ? OR p.credit = ?) "
                    "AND p.position > ? AND p.position <= ? AND e.rated_position <= ? AND e.occurred_at < ? "
                    "ORDER BY p.position",
                    (customer, *RATING_CHANGES, account, account, prev_cut, cut, prev_cut, prev_end),
                )
                corrections = _corrections(cursor.fetchall(), account, earlier)
        return BillingSnapshot(cut, lines, tiers, corrections)

    def invoices_of(self, customer: str) -> list[dict[str, Any]]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT invoice_id, cut, period_start, period_end, status, credit_carried, kind "
                f"FROM {self.prefix}invoices WHERE customer = ? ORDER BY period_end, issued_at",
                (customer,),
            )
            names = ("invoice_id", "cut", "period_start", "period_end", "status", "credit_carried", "kind")
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def due_attempts(self, now: datetime) -> list[str]:
        """Invoices whose failed card charge is due for another attempt."""
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT invoice_id FROM {self.prefix}invoices "
                "WHERE status = 'payment_failed' AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at",
                (iso(now),),
            )
            return [str(row[0]) for row in cursor.fetchall()]

    def unpaid_statuses(self, customer: str) -> set[str]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT DISTINCT status FROM {self.prefix}invoices WHERE customer = ? AND status <> 'paid'",
                (customer,),
            )
            return {str(row[0]) for row in cursor.fetchall()}


class WalletQueries:
    """What the wallet policies read: grants due to expire, the grants and
    consumption of a wallet, and the auto top-ups started."""

    def __init__(self, database: Database, prefix: str) -> None:
        self.database = database
        self.prefix = prefix

    def expiring_grants(self, now: datetime) -> list[tuple[str, str]]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT customer, top_up_id FROM {self.prefix}top_ups WHERE source = 'grant' AND expired IS NULL "
                "AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, created_at, top_up_id",
                (iso(now),),
            )
            return [(str(customer), str(top_up)) for customer, top_up in cursor.fetchall()]

    def grants_of(self, customer: str) -> list[dict[str, Any]]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT top_up_id, amount, expires_at, created_at, expired FROM {self.prefix}top_ups "
                "WHERE customer = ? AND source = 'grant'",
                (customer,),
            )
            names = ("top_up_id", "amount", "expires_at", "created_at", "expired")
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def spent(self, customer: str, wallet: str, as_of: datetime) -> Decimal:
        """What usage (with its corrections and tier settlements) had taken
        from the wallet by `as_of`."""
        total = self.database.dialect.sum("amount")
        spent = ZERO
        with self.database.transaction(write=False) as cursor:
            for side, sign in (("debit", 1), ("credit", -1)):
                cursor.execute(
                    f"SELECT {total} FROM {self.prefix}postings WHERE customer = ? AND {side} = ? "
                    "AND kind IN ('usage', 'rerating', 'tiers') AND posted_at <= ?",
                    (customer, wallet, iso(as_of)),
                )
                spent += sign * dec(cursor.fetchone()[0])
        return spent

    def balance(self, customer: str, currency: str) -> Decimal:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT balance FROM {self.prefix}balances WHERE customer = ? AND currency = ?", (customer, currency)
            )
            row = cursor.fetchone()
        return ZERO if row is None else dec(row[0])

    def top_ups_of(self, customer: str, limit: int) -> list[dict[str, Any]]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT top_up_id, source, amount, currency, status, expires_at, expired, refunded, disputed, "
                f"created_at FROM {self.prefix}top_ups WHERE customer = ? ORDER BY position DESC LIMIT ?",
                (customer, limit),
            )
            names = ("id", "source", "amount", "currency", "status", "expires_at", "expired", "refunded", "disputed",
                     "created_at")  # fmt: skip
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def auto_top_ups(self, customer: str) -> list[dict[str, Any]]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT top_up_id, status, created_at FROM {self.prefix}top_ups "
                "WHERE customer = ? AND automatic = 1 ORDER BY position",
                (customer,),
            )
            return [dict(zip(("top_up_id", "status", "created_at"), row, strict=True)) for row in cursor.fetchall()]


def _line(row: Sequence[Any]) -> dict[str, Any]:
    provider, model, unit, late, quantity, cost, charge = row
    cost, charge, quantity = dec(cost), dec(charge), int(quantity)
    return {
        "provider": provider,
        "model": model,
        "unit": unit,
        "late": bool(late),
        "quantity": quantity,
        "unit_price": str(charge / quantity if quantity else ZERO),
        "cost": str(cost),
        "markup": str(charge - cost),
        "amount": str(charge),
    }


def _tier_lines(rows: Sequence[Sequence[Any]], account: str, start: datetime) -> list[dict[str, Any]]:
    by_month: dict[str, Decimal] = {}
    for occurred_at, debit, amount in rows:
        month = str(occurred_at)[:7]
        by_month[month] = by_month.get(month, ZERO) + (dec(amount) if debit == account else -dec(amount))
    return [
        {"period": month, "amount": str(amount), "late": month < iso(start)[:7]}
        for month, amount in sorted(by_month.items())
        if amount
    ]


def _corrections(rows: Sequence[Sequence[Any]], account: str, earlier: Sequence[Covered]) -> list[dict[str, Any]]:
    """Each re-rating difference, grouped by the invoice that billed its usage and by model."""
    found: dict[tuple[str, str, str], Decimal] = {}
    for rated_position, occurred_at, provider, model, debit, amount in rows:
        invoice = next(
            (c.invoice_id for c in earlier if rated_position <= c.cut and str(occurred_at) < iso(c.end)),
            earlier[-1].invoice_id,
        )
        key = (invoice, provider, model)
        found[key] = found.get(key, ZERO) + (dec(amount) if debit == account else -dec(amount))
    return [
        {"invoice": invoice, "provider": provider, "model": model, "amount": str(amount)}
        for (invoice, provider, model), amount in sorted(found.items())
        if amount
    ]
