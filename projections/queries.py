"""Queries answered from the read model only: never from aggregates."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.accounts import account_type, receivable, wallet
from domain.journal import Posting
from domain.money import ZERO, exact, money_math
from domain.rerating import RatedWith
from domain.usage import RecordedUsage
from projections.database import Cursor, Database
from projections.ledger_view import iso
from projections.schema import VIEW_NAME

MAX_PAGE = 500
MAX_HISTORY_PAGE = 10_000
PROJECTION_WINDOW_DAYS = 7


def dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value)) if value is not None else ZERO


@dataclass(frozen=True)
class AccountTotal:
    account: str
    type: str
    debits: Decimal
    credits: Decimal

    @property
    @money_math
    def balance(self) -> Decimal:
        """Signed by the account's normal side: debits - credits for assets and
        expenses, credits - debits for the rest."""
        if account_type(self.account).is_debit_normal:
            return self.debits - self.credits
        return self.credits - self.debits


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    debits: Decimal
    credits: Decimal
    accounts: list[AccountTotal]


@dataclass(frozen=True)
class Entry:
    position: int
    kind: str
    cause_type: str
    cause_id: str
    cause_ref: str
    customer: str | None
    posted_at: str
    postings: list[Posting] = field(default_factory=list)


@dataclass(frozen=True)
class ModelSpend:
    provider: str
    model: str
    spend: Decimal
    cost: Decimal
    unpriced_events: int = 0  # usage of this model recorded without a price, not charged yet


@dataclass(frozen=True)
class PeriodSummary:
    start: datetime
    end: datetime
    spend: Decimal
    projected_spend: Decimal
    by_model: list[ModelSpend]
    by_feature: list[tuple[str, Decimal]]
    daily: list[tuple[date, Decimal]]
    tier_adjustment: Decimal = ZERO  # what the tier ladder added (or took) over the first-tier ratings
    unpriced_events: int = 0  # usage in the period recorded without a price: pending, charged once priced


class LedgerQueries:
    def __init__(self, database: Database, prefix: str) -> None:
        self.database = database
        self.prefix = prefix
        self.sum = database.dialect.sum

    def position(self) -> int:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(f"SELECT position FROM {self.prefix}tracking WHERE name = ?", (VIEW_NAME,))
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    @money_math
    def balances(self, customers: list[str]) -> tuple[dict[tuple[str, str], Decimal], int]:
        """Current balances of many customers and the read model's position
        they are at, in one statement (so one snapshot; for GraphQL's data
        loader, which adds the log's tail beyond that position)."""
        p = self.prefix
        marks = ",".join("?" * len(customers)) or "NULL"
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT NULL, NULL, NULL, position FROM {p}tracking WHERE name = ? UNION ALL "
                f"SELECT customer, currency, balance, NULL FROM {p}balances WHERE customer IN ({marks})",
                (VIEW_NAME, *customers),
            )
            found, position = {}, 0
            for customer, currency, amount, tracked in cursor.fetchall():
                if customer is None:
                    position = int(tracked)
                else:
                    found[(str(customer), str(currency))] = dec(amount)
            return found, position

    def balance(self, customer: str, currency: str, as_of: datetime | None = None) -> tuple[Decimal, str | None]:
        """The customer's balance (credits minus debits on its wallet and
        receivable) and the time of the last change it includes."""
        p = self.prefix
        if as_of is None:
            row = self.database.read_one(
                f"SELECT balance, updated_at FROM {p}balances WHERE customer = ? AND currency = ?", (customer, currency)
            )
            return (dec(row[0]), row[1]) if row else (ZERO, None)
        with self.database.transaction(write=False) as cursor:
            accounts = (wallet(customer), receivable(customer))
            credited = self._sum_postings(cursor, "credit", accounts, customer, currency, iso(as_of))
            debited = self._sum_postings(cursor, "debit", accounts, customer, currency, iso(as_of))
            return credited - debited, iso(as_of)

    def _sum_postings(
        self, cursor: Cursor, side: str, accounts: tuple[str, str], customer: str, currency: str, until: str
    ) -> Decimal:
        cursor.execute(
            f"SELECT {self.sum('amount')} FROM {self.prefix}postings WHERE customer = ? AND currency = ? "
            f"AND posted_at <= ? AND {side} IN (?, ?)",
            (customer, currency, until, *accounts),
        )
        return dec(cursor.fetchone()[0])

    @money_math
    def trial_balance(self, as_of: datetime | None = None) -> list[CurrencyTotals]:
        totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        p = self.prefix
        with self.database.transaction(write=False) as cursor:
            if as_of is None:
                cursor.execute(f"SELECT account, currency, debits, credits FROM {p}accounts")
                for account, currency, debits, credits in cursor.fetchall():
                    totals[(account, currency)] = [dec(debits), dec(credits)]
            else:
                for side, column in (("debit", 0), ("credit", 1)):
                    cursor.execute(
                        f"SELECT {side}, currency, {self.sum('amount')} FROM {p}postings "
                        f"WHERE posted_at <= ? GROUP BY {side}, currency",
                        (iso(as_of),),
                    )
                    for account, currency, amount in cursor.fetchall():
                        totals[(account, currency)][column] += dec(amount)
        return _by_currency(totals)

    @money_math
    def entries(
        self,
        *,
        account: str | None = None,
        customer: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Entry]:
        """Journal entries in posting order, after the position `after`. Scoped
        to a customer, an entry shows only the postings on that customer's
        accounts (the operator's provider cost is not the customer's business)."""
        assert 0 < limit <= MAX_PAGE, "pages are bounded"
        conditions: list[str] = ["position > ?"]
        params: list[Any] = [after]
        if account is not None:
            conditions.append("(debit = ? OR credit = ?)")
            params += [account, account]
        if customer is not None:
            conditions.append("customer = ?")
            params.append(customer)
        if start is not None:
            conditions.append("posted_at >= ?")
            params.append(iso(start))
        if end is not None:
            conditions.append("posted_at < ?")
            params.append(iso(end))
        if as_of is not None:
            conditions.append("posted_at <= ?")
            params.append(iso(as_of))
        where = " AND ".join(conditions)
        scope, scope_params = ("AND customer = ? ", [customer]) if customer is not None else ("", [])
        p = self.prefix
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT position, seq, kind, cause_type, cause_id, cause_ref, customer, debit, credit, amount, "
                f"currency, posted_at FROM {p}postings WHERE position IN "
                f"(SELECT DISTINCT position FROM {p}postings WHERE {where} ORDER BY position LIMIT ?) "
                f"{scope}ORDER BY position, seq",
                (*params, limit, *scope_params),
            )
            found = cursor.fetchall()
        entries: dict[tuple[int, str], Entry] = {}
        for position, _seq, kind, cause_type, cause_id, cause_ref, owner, debit, credit, amount, currency, at in found:
            key = (int(position), kind)
            if key not in entries:
                entries[key] = Entry(int(position), kind, cause_type, cause_id, cause_ref, owner, at)
            entries[key].postings.append(Posting(debit, credit, dec(amount), currency))
        return list(entries.values())

    @money_math
    def period_summary(self, customer: str, start: datetime, end: datetime, now: datetime) -> PeriodSummary:
        p = self.prefix
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT day, provider, model, feature, cost, charge, unpriced FROM {p}usage_daily "
                "WHERE customer = ? AND day >= ? AND day < ?",
                (customer, start.date().isoformat(), end.date().isoformat()),
            )
            found = cursor.fetchall()
            cursor.execute(
                f"SELECT {self.sum('difference')} FROM {p}tier_months "
                "WHERE customer = ? AND period >= ? AND period < ?",
                (customer, start.strftime("%Y-%m"), end.strftime("%Y-%m")),
            )
            tiers = dec(cursor.fetchone()[0])
        by_model: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        unpriced: dict[tuple[str, str], int] = defaultdict(int)
        by_feature: dict[str, Decimal] = defaultdict(lambda: ZERO)
        daily: dict[date, Decimal] = defaultdict(lambda: ZERO)
        for day, provider, model, feature, cost, charge, pending in found:
            by_model[(provider, model)][0] += dec(charge)
            by_model[(provider, model)][1] += dec(cost)
            unpriced[(provider, model)] += int(pending or 0)
            by_feature[feature] += dec(charge)
            daily[date.fromisoformat(day)] += dec(charge)
        spend = sum(daily.values(), ZERO) + tiers
        return PeriodSummary(
            start,
            end,
            spend,
            exact(spend + projected_extra(daily, start, end, now)),
            [ModelSpend(pr, mo, s, c, unpriced[(pr, mo)]) for (pr, mo), (s, c) in sorted(by_model.items())],
            sorted(by_feature.items()),
            sorted(daily.items()),
            tiers,
            sum(unpriced.values()),
        )

    def usage_buckets(
        self, customer: str, start: datetime, end: datetime, granularity: str, group_by: list[str]
    ) -> list[UsageBucket]:
        return UsageBuckets(self.database, self.prefix).buckets(customer, start, end, granularity, group_by)

    def customers(self, after: str = "", limit: int = 50) -> list[dict[str, Any]]:
        assert 0 < limit <= MAX_PAGE, "pages are bounded"
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT customer, name, currency, plan, billing, status FROM {self.prefix}customers "
                "WHERE customer > ? ORDER BY customer LIMIT ?",
                (after, limit),
            )
            names = ("id", "name", "currency", "plan", "billing", "status")
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def first_month_from(moment: datetime) -> str:
    """The first month (YYYY-MM) that begins at or after `moment`."""
    utc = moment.astimezone(UTC)
    if (utc.day, utc.hour, utc.minute, utc.second, utc.microsecond) == (1, 0, 0, 0, 0):
        return utc.strftime("%Y-%m")
    return (utc.replace(day=28) + timedelta(days=4)).strftime("%Y-%m")


def _recorded(row: Any) -> RecordedUsage:
    usage_id, customer, event_id, occurred_at, provider, model, feature, usage, cost, charge = row[:10]
    version, price_version, plan_version, account, tiered, currency = row[10:]
    return RecordedUsage(
        customer, event_id, datetime.fromisoformat(occurred_at.replace("Z", "+00:00")), provider, model, feature,
        json.loads(usage), None if cost is None else dec(cost), None if charge is None else dec(charge),
        UUID(usage_id), int(version), price_version, plan_version, account, bool(tiered), currency,
    )  # fmt: skip


def projected_extra(daily: dict[date, Decimal], start: datetime, end: datetime, now: datetime) -> Decimal:
    """The average daily spend of the last seven days (or of the period so far,
    if shorter) times the days left in the period."""
    today = min(max(now, start), end).astimezone(UTC).date()
    window_start = max(start.date(), today - timedelta(days=PROJECTION_WINDOW_DAYS - 1))
    window_days = (today - window_start).days + 1
    window_spend = sum((spend for day, spend in daily.items() if window_start <= day <= today), ZERO)
    days_left = max((end.date() - today).days - 1, 0)
    if window_days <= 0 or days_left == 0:
        return ZERO
    return window_spend / window_days * days_left


def _by_currency(totals: dict[tuple[str, str], list[Decimal]]) -> list[CurrencyTotals]:
    grouped: dict[str, list[AccountTotal]] = defaultdict(list)
    for (account, currency), (debits, credits) in sorted(totals.items()):
        grouped[currency].append(AccountTotal(account, account_type(account).value, debits, credits))
    return [
        CurrencyTotals(
            currency,
            sum((a.debits for a in accounts), ZERO),
            sum((a.credits for a in accounts), ZERO),
            accounts,
        )
        for currency, accounts in sorted(grouped.items())
    ]


# The usage_events columns naming the price book (or plan) a usage's rating
# used, and that book's (or plan's) version number.
RATED_WITH_COLUMNS = {"price_book": ("price_book", "price_version"), "plan": ("plan", "plan_version")}


class UsageHistoryQueries:
    """Recorded usage by time (the usage_events table), for simulations."""

    def __init__(self, database: Database, prefix: str) -> None:
        self.database = database
        self.prefix = prefix

    def usage_between(
        self, customer: str | None, start: datetime, end: datetime, after: str, limit: int
    ) -> list[tuple[str, RecordedUsage]]:
        return self._usage(
            ["customer = ?"] if customer else [], [customer] if customer else [], start, end, after, limit
        )

    def usage_of(
        self,
        customers: list[str],
        start: datetime,
        end: datetime,
        after: str,
        limit: int,
        not_rated_with: RatedWith | None = None,
    ) -> list[tuple[str, RecordedUsage]]:
        if not customers:
            return []
        marks = ",".join("?" * len(customers))
        conditions, params = [f"customer IN ({marks})"], list[Any](customers)
        if not_rated_with is not None:  # rated with that version or a later one of the same book or plan: left out
            name, version = RATED_WITH_COLUMNS[not_rated_with.kind]
            conditions.append(
                f"(charge IS NULL OR {name} IS NULL OR {name} <> ? OR {version} IS NULL OR {version} < ?)"
            )
            params += [not_rated_with.name, not_rated_with.number]
        return self._usage(conditions, params, start, end, after, limit)

    def changed_months(self, after: int, upto: int) -> list[tuple[str, str]]:
        """(customer, YYYY-MM) of the usage recorded or re-rated at log
        positions in (after, upto]."""
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT DISTINCT customer, substr(occurred_at, 1, 7) FROM {self.prefix}usage_events "
                "WHERE position > ? AND position <= ? ORDER BY 1, 2",
                (after, upto),
            )
            return [(str(customer), str(month)) for customer, month in cursor.fetchall()]

    def unpriced_changed(self, after: int, upto: int) -> dict[str, int]:
        """Per customer, how many of the usage events recorded or re-rated at
        log positions in (after, upto] are unpriced now: recorded unpriced, or
        unpriced by a version that no longer prices them."""
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT customer, COUNT(*) FROM {self.prefix}usage_events "
                "WHERE position > ? AND position <= ? AND charge IS NULL GROUP BY customer",
                (after, upto),
            )
            return {str(customer): int(count) for customer, count in cursor.fetchall()}

    def months_of(self, customer: str, since: datetime) -> list[str]:
        start = iso(since.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT DISTINCT substr(occurred_at, 1, 7) FROM {self.prefix}usage_events "
                "WHERE customer = ? AND occurred_at >= ? ORDER BY 1",
                (customer, start),
            )
            return [str(row[0]) for row in cursor.fetchall()]

    def tier_differences(self, customer: str | None, start: datetime, end: datetime) -> Decimal:
        conditions, params = (
            ["period >= ?", "period < ?"],
            [first_month_from(start), end.astimezone(UTC).strftime("%Y-%m")],
        )
        if customer is not None:
            conditions.append("customer = ?")
            params.append(customer)
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT {self.database.dialect.sum('difference')} FROM {self.prefix}tier_months "
                f"WHERE {' AND '.join(conditions)}",
                params,
            )
            row = cursor.fetchone()
        return ZERO if row is None or row[0] is None else dec(row[0])

    def tiered_cost(self, customer: str, start: datetime, end: datetime) -> Decimal:
        """The provider cost of a customer's usage in [start, end) that counts
        toward the tier ladder, as its latest ratings stand."""
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT {self.database.dialect.sum('cost')} FROM {self.prefix}usage_events "
                "WHERE customer = ? AND occurred_at >= ? AND occurred_at < ? AND tiered = 1",
                (customer, iso(start), iso(end)),
            )
            row = cursor.fetchone()
        return ZERO if row is None or row[0] is None else dec(row[0])

    def position(self) -> int:
        return LedgerQueries(self.database, self.prefix).position()

    def _usage(
        self, conditions: list[str], params: list[Any], start: datetime, end: datetime, after: str, limit: int
    ) -> list[tuple[str, RecordedUsage]]:
        """Pages in (occurred_at, usage_id) order, read along that index: each
        page costs its own rows whatever the filter, so a scan of a large
        history stays linear. The cursor is "<occurred_at>|<usage_id>"."""
        assert 0 < limit <= MAX_HISTORY_PAGE, "pages are bounded"
        last_time, _, last_id = after.partition("|") if after else (iso(start), "", "")
        where = " AND ".join(["(occurred_at, usage_id) > (?, ?)", "occurred_at >= ?", "occurred_at < ?", *conditions])
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                "SELECT usage_id, customer, event_id, occurred_at, provider, model, feature, usage, cost, charge, "
                f"version, price_version, plan_version, account, tiered, currency FROM {self.prefix}usage_events "
                f"WHERE {where} "
                "ORDER BY occurred_at, usage_id LIMIT ?",
                (last_time, last_id, iso(start), iso(end), *params, limit),
            )
            found = cursor.fetchall()
        return [(f"{row[3]}|{row[0]}", _recorded(row)) for row in found]


DIMENSIONS = ("provider", "model", "feature", "unit")
BUCKET_WIDTH = {"hour": 13, "day": 10}  # characters of the ISO time that name the bucket


@dataclass(frozen=True)
class UsageBucket:
    start: datetime
    dimensions: dict[str, str]
    quantities: dict[str, int]
    cost: Decimal
    charge: Decimal


class UsageBuckets:
    """Usage by hour or day, by provider, model, feature and unit, from the
    per-unit lines whose charges add up to the ledger's to the last digit."""

    def __init__(self, database: Database, prefix: str) -> None:
        self.database = database
        self.prefix = prefix

    @money_math
    def buckets(
        self, customer: str, start: datetime, end: datetime, granularity: str, group_by: list[str]
    ) -> list[UsageBucket]:
        assert granularity in BUCKET_WIDTH and set(group_by) <= set(DIMENSIONS), (granularity, group_by)
        width = BUCKET_WIDTH[granularity]
        dims = [d for d in DIMENSIONS if d in group_by and d != "unit"]
        columns = ", ".join([*dims, "unit"])
        total = self.database.dialect.sum
        with self.database.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT substr(occurred_at, 1, {width}) AS bucket, {columns}, SUM(quantity), "
                f"{total('cost')}, {total('charge')} FROM {self.prefix}usage_lines "
                "WHERE customer = ? AND occurred_at >= ? AND occurred_at < ? "
                f"GROUP BY bucket, {columns} ORDER BY bucket, {columns}",
                (customer, iso(start), iso(end)),
            )
            found = cursor.fetchall()
        return _fold_buckets(found, dims, "unit" in group_by, granularity)


def _fold_buckets(found: list[Any], dims: list[str], by_unit: bool, granularity: str) -> list[UsageBucket]:
    folded: dict[tuple[str, ...], list[Any]] = {}
    for row in found:
        bucket, values, unit = row[0], row[1 : 1 + len(dims)], row[1 + len(dims)]
        quantity, cost, charge = row[2 + len(dims) :]
        key = (bucket, *values, *([unit] if by_unit else []))
        entry = folded.setdefault(key, [{}, ZERO, ZERO])
        entry[0][unit] = entry[0].get(unit, 0) + int(quantity)
        entry[1] += dec(cost)
        entry[2] += dec(charge)
    suffix = ":00:00+00:00" if granularity == "hour" else "T00:00:00+00:00"
    names = [*dims, *(["unit"] if by_unit else [])]
    return [
        UsageBucket(datetime.fromisoformat(key[0] + suffix), dict(zip(names, key[1:], strict=True)), *entry)
        for key, entry in folded.items()
    ]
