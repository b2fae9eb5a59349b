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
        self._head_sql: str | None = None

    def read_head_with(self, statement: str) -> None:
        """The statement that reads the log's head, whose table lives beside
        the views (same schema or file): each standing then carries the head
        from the same snapshot (ProjectedStanding.head), which spares a
        decision the head's own round trip."""
        self._head_sql = f"({statement})"

    def standing(
        self,
        customer: str,
        currency: str,
        holds: Sequence[str],
        start: datetime,
        end: datetime,
        since: int | None = None,
    ) -> ProjectedStanding:
        """The balance, captured hold ids, spend in [start, end), the ids of
        the invoices past due, the read model's position and (when
        read_head_with() named how) the log's head: one statement, so one
        snapshot and one round trip."""
        p, dialect = self.prefix, self.database.dialect
        captured_sql, captured_params = self._captured_among(customer, holds, since)
        tiers_sql = "0"
        tiers_params: tuple[str, ...] = ()
        if (end - start).days >= 28:  # a month's spend includes what its tier ladder added or took
            tiers_sql = f"(SELECT {dialect.sum('difference')} FROM {p}tier_months WHERE customer = ? AND period = ?)"
            tiers_params = (customer, iso(start)[:7])
        past_due_marks = ",".join("?" * len(PAST_DUE_STATUSES))
        head_sql = self._head_sql or "NULL"
        statement = (
            f"SELECT (SELECT position FROM {p}tracking WHERE name = ?),"
            f" (SELECT balance FROM {p}balances WHERE customer = ? AND currency = ?),"
            f" {captured_sql},"
            f" (SELECT {dialect.sum('charge')} FROM {p}usage_daily WHERE customer = ? AND day >= ? AND day < ?),"
            f" {tiers_sql},"
            f" (SELECT {dialect.joined('invoice_id')} FROM {p}invoices"
            f" WHERE customer = ? AND status IN ({past_due_marks})),"
            f" {head_sql}"
        )
        params = (
            VIEW_NAME,
            customer,
            currency,
            *captured_params,
            customer,
            start.date().isoformat(),
            end.date().isoformat(),
            *tiers_params,
            customer,
            *PAST_DUE_STATUSES,
        )
        tracked, balance, captured, spend, tiers, past_due, head = self.database.read_one(statement, params)
        return ProjectedStanding(
            ZERO if balance is None else dec(balance),
            _ids(captured),
            dec(spend) + dec(tiers),
            _ids(past_due),
            _position(tracked),
            None if self._head_sql is None else _position(head),
        )

    def balance(
        self, customer: str, currency: str, holds: Sequence[str], since: int | None = None
    ) -> ProjectedStanding:
        """The balance, the captured hold ids among `holds` and the read
        model's position, in one statement (what a balance read needs of the
        standing: no spend, no invoices)."""
        p = self.prefix
        captured_sql, captured_params = self._captured_among(customer, holds, since)
        statement = (
            f"SELECT (SELECT position FROM {p}tracking WHERE name = ?),"
            f" (SELECT balance FROM {p}balances WHERE customer = ? AND currency = ?), {captured_sql}"
        )
        params = (VIEW_NAME, customer, currency, *captured_params)
        tracked, balance, captured = self.database.read_one(statement, params)
        return ProjectedStanding(
            ZERO if balance is None else dec(balance), _ids(captured), ZERO, set(), _position(tracked)
        )

    def _captured_among(
        self, customer: str, holds: Sequence[str], since: int | None
    ) -> tuple[str, tuple[str | int, ...]]:
        """The scalar subquery listing the customer's holds its usage
        captured among `holds`, and any captured after position `since`, and
        its parameters (NULL when there is nothing to ask about)."""
        if not holds and since is None:
            return "NULL", ()
        found: list[str] = []
        params: list[str | int] = [customer]
        if since is not None:
            found.append("position > ?")
            params.append(since)
        if holds:
            found.append(f"authorization_id IN ({','.join('?' * len(holds))})")
            params.extend(holds)
        joined = self.database.dialect.joined("authorization_id")
        where = " OR ".join(found)
        return f"(SELECT {joined} FROM {self.prefix}hold_captures WHERE customer = ? AND ({where}))", tuple(params)

    def captured(self, authorization_id: str, customer: str) -> tuple[bool, int]:
        """Whether a usage of the customer named its authorization, and the
        read model's position, in one statement (one snapshot)."""
        p = self.prefix
        statement = (
            f"SELECT (SELECT position FROM {p}tracking WHERE name = ?),"
            f" (SELECT 1 FROM {p}hold_captures WHERE customer = ? AND authorization_id = ?)"
        )
        tracked, found = self.database.read_one(statement, (VIEW_NAME, customer, authorization_id))
        return found is not None, _position(tracked)


def _ids(joined: object) -> set[str]:
    """Hold or invoice ids joined with spaces (caller ids hold none, nor
    invoice numbers, made of a caller id and the period's moments)."""
    return set(str(joined).split()) if joined else set()


def _position(tracked: object) -> int:
    return int(str(tracked)) if tracked is not None else 0
