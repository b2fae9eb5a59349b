"""What alerting reads: a customer's spend per day, its alerts, and the
webhook deliveries due for another attempt."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from projections.database import Database
from projections.ledger_view import iso
from projections.queries import dec


class AlertQueries:
    def __init__(self, database: Database, prefix: str) -> None:
        self.database = database
        self.prefix = prefix

    def daily_spend(self, customer: str, first: str, last: str) -> dict[str, tuple[Decimal, int]]:
        total = self.database.dialect.sum("charge")
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT day, {total}, SUM(unpriced) FROM {self.prefix}usage_daily "
                "WHERE customer = ? AND day >= ? AND day <= ? GROUP BY day",
                (customer, first, last),
            )
            return {str(day): (dec(charge), int(unpriced or 0)) for day, charge, unpriced in cursor.fetchall()}

    def first_day(self, customer: str) -> str | None:
        """The first day (YYYY-MM-DD) the customer had usage."""
        with self.database.transaction(write=False) as cursor:
            cursor.execute(f"SELECT MIN(day) FROM {self.prefix}usage_daily WHERE customer = ?", (customer,))
            row = cursor.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def alerts_of(self, customer: str, limit: int) -> list[dict[str, Any]]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT alert_id, kind, threshold, period, raised_at, message, value FROM {self.prefix}alerts "
                "WHERE customer = ? ORDER BY position DESC LIMIT ?",
                (customer, limit),
            )
            names = ("id", "kind", "threshold", "period", "raised_at", "message", "value")
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def due_deliveries(self, now: datetime) -> list[tuple[str, str]]:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT endpoint_id, message_id FROM {self.prefix}deliveries WHERE status = 'pending' "
                "AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 100",
                (iso(now),),
            )
            return [(str(endpoint), str(message)) for endpoint, message in cursor.fetchall()]
