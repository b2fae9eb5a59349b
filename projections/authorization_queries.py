"""What an authorization is decided on, read from the read model in one
snapshot: the balance, which of the open holds usage has captured already
(their charge is in the balance), and the spend in the limit's period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.holds import ProjectedStanding
from domain.invoice import PAST_DUE_STATUSES
from domain.money import ZERO
from projections.database import Database
from projections.ledger_view import iso
from projections.queries import dec
from projections.schema import VIEW_NAME


class AuthorizationQueries:
    def __init__(self, database: Database, prefix: str) -> None:
        self.database = database
        self.prefix = prefix

    def standing(
        self, customer: str, currency: str, holds: Sequence[str], start: datetime, end: datetime
    ) -> ProjectedStanding:
        """The balance, captured hold ids, spend in [start, end), past due, and
        the read model's position, all in one snapshot."""
        p, total = self.prefix, self.database.dialect.sum
        with self.database.snapshot() as cursor:
            cursor.execute(f"SELECT position FROM {p}tracking WHERE name = ?", (VIEW_NAME,))
            tracked = cursor.fetchone()
            cursor.execute(f"SELECT balance FROM {p}balances WHERE customer = ? AND currency = ?", (customer, currency))
            row = cursor.fetchone()
            balance = ZERO if row is None else dec(row[0])
            captured: set[str] = set()
            if holds:
                marks = ",".join("?" * len(holds))
                cursor.execute(
                    f"SELECT authorization_id FROM {p}captures WHERE authorization_id IN ({marks})", tuple(holds)
                )
                captured = {str(found[0]) for found in cursor.fetchall()}
            cursor.execute(
                f"SELECT {total('charge')} FROM {p}usage_daily WHERE customer = ? AND day >= ? AND day < ?",
                (customer, start.date().isoformat(), end.date().isoformat()),
            )
            spend = dec(cursor.fetchone()[0])
            if (end - start).days >= 28:  # a month's spend includes what its tier ladder added or took
                cursor.execute(
                    f"SELECT {total('difference')} FROM {p}tier_months WHERE customer = ? AND period = ?",
                    (customer, iso(start)[:7]),
                )
                spend += dec(cursor.fetchone()[0])
            marks = ",".join("?" * len(PAST_DUE_STATUSES))
            cursor.execute(
                f"SELECT 1 FROM {p}invoices WHERE customer = ? AND status IN ({marks}) LIMIT 1",
                (customer, *PAST_DUE_STATUSES),
            )
            past_due = cursor.fetchone() is not None
        position = int(tracked[0]) if tracked else 0
        return ProjectedStanding(balance, captured, spend, past_due, position)

    def captured(self, authorization_id: str) -> bool:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(f"SELECT 1 FROM {self.prefix}captures WHERE authorization_id = ?", (authorization_id,))
            return cursor.fetchone() is not None
