"""Queries for dashboards. Every resolver reads the read model (or the
reference cache for customer details) through the same services as REST."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from cross_web import HTTPException as StrawberryHTTPException
from graphql import GraphQLError
from starlette.responses import HTMLResponse
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from application.errors import NotFound
from application.validation import is_position
from interfaces.api_docs.pages import graphiql_html, local_only
from interfaces.bootstrap import Services
from interfaces.graphql import types as t
from interfaces.graphql.context import NotAllowed, TallyContext, context_getter
from interfaces.graphql.error_codes import ErrorCodes, code_of
from interfaces.worker_threads import run_blocking
from projections.queries import CurrencyTotals

logger = logging.getLogger(__name__)

MAX_DEPTH = 8
MAX_PAGE = 100
MAX_USAGE_RANGE = {t.Granularity.HOUR: timedelta(days=31), t.Granularity.DAY: timedelta(days=366)}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


@strawberry.type
class Customer:
    id: strawberry.ID
    name: str
    currency: str
    billing: str
    plan: str

    @strawberry.field
    def status(self, info: Info[TallyContext, None]) -> str:
        """`past_due` while an invoice's card charge has failed or it was written off; else `active`."""
        return info.context.billing.customer_status(str(self.id))

    @strawberry.field
    def limits(self, info: Info[TallyContext, None]) -> t.Limits | None:
        found = info.context.customers.customer(str(self.id)).limits
        return t.Limits.of(found, self.currency) if found else None

    @strawberry.field
    def alerts(self, info: Info[TallyContext, None], first: int = 20) -> list[t.Alert]:
        """Newest first."""
        rows = info.context.alert_reads.alerts_of(str(self.id), max(1, min(first, MAX_PAGE)))
        return [
            t.Alert(id=strawberry.ID(r["id"]), kind=r["kind"], threshold=r["threshold"], period=r["period"],
                    raised_at=_time(r["raised_at"]), message=r["message"], value=str(r["value"] or ""))
            for r in rows
        ]  # fmt: skip

    @strawberry.field
    def top_ups(self, info: Info[TallyContext, None], first: int = 20) -> list[t.TopUp]:
        """Grants and card top-ups, newest first."""
        rows = info.context.wallet_reads.top_ups_of(str(self.id), max(1, min(first, MAX_PAGE)))
        found = []
        for r in rows:
            returned = Decimal(str(r["refunded"])) + Decimal(str(r["disputed"])) + Decimal(str(r["expired"] or 0))
            amount = t.Money.of(Decimal(str(r["amount"])), r["currency"])
            found.append(
                t.TopUp(id=strawberry.ID(r["id"]), source=r["source"], amount=amount, status=r["status"],
                        expires_at=_time(r["expires_at"]) if r["expires_at"] else None,
                        created_at=_time(r["created_at"]), returned=t.Money.of(returned, r["currency"]))
            )  # fmt: skip
        return found

    @strawberry.field
    def invoices(self, info: Info[TallyContext, None], first: int = 12) -> list[t.Invoice]:
        """The customer's invoices and statements, newest first."""
        now = info.context.clock()
        found = info.context.billing.invoices_of(str(self.id))[::-1][: max(1, min(first, MAX_PAGE))]
        return [t.Invoice.of(invoice, now) for invoice in found]

    @strawberry.field
    async def balance(self, info: Info[TallyContext, None], as_of: datetime | None = None) -> t.Balance:
        services = info.context.services
        _require_offset(as_of)
        if as_of is None:
            amount = await info.context.balances.load((str(self.id), self.currency))
        else:
            amount, _ = await run_blocking(services.queries.balance, str(self.id), self.currency, as_of)
        held = (
            await run_blocking(info.context.authorizations.held, str(self.id)) if as_of is None else Decimal(0)
        )  # now only
        moment = as_of or info.context.clock()
        return t.Balance(
            balance=t.Money.of(amount, self.currency),
            held=t.Money.of(held, self.currency),
            available=t.Money.of(amount - held, self.currency),
            as_of=moment,
        )

    @strawberry.field
    def current_period(self, info: Info[TallyContext, None]) -> t.PeriodSummary:
        services = info.context.services
        now = info.context.clock()
        start, end = month_of(now)
        summary = services.queries.period_summary(str(self.id), start, end, now)
        currency = self.currency

        def money(amount: Decimal) -> t.Money:
            return t.Money.of(amount, currency)

        return t.PeriodSummary(
            start=summary.start,
            end=summary.end,
            spend=money(summary.spend),
            projected_spend=money(summary.projected_spend),
            by_model=[
                t.SpendByModel(
                    provider=m.provider,
                    model=m.model,
                    spend=money(m.spend),
                    cost=money(m.cost),
                    unpriced_events=m.unpriced_events,
                )
                for m in summary.by_model
            ],
            by_feature=[t.SpendByFeature(feature=f, spend=money(s)) for f, s in summary.by_feature],
            daily=[t.DailySpend(date=d, spend=money(s)) for d, s in summary.daily],
            tier_adjustment=money(summary.tier_adjustment),
            unpriced_events=summary.unpriced_events,
        )

    @strawberry.field
    def usage(
        self,
        info: Info[TallyContext, None],
        start: Annotated[datetime, strawberry.argument(name="from")],
        end: Annotated[datetime, strawberry.argument(name="to")],
        granularity: t.Granularity,
        group_by: list[t.UsageDimension] | None = None,
    ) -> list[t.UsageBucket]:
        """Usage in HOUR or DAY buckets by provider, model, feature and unit, with
        quantities and charge (and cost, for the admin key only); charges add
        up to the ledger's."""
        _require_offset(start)
        _require_offset(end)
        if not start < end or end - start > MAX_USAGE_RANGE[granularity]:
            raise ValueError(f"from must be before to, at most {MAX_USAGE_RANGE[granularity].days} days apart")
        dims = [d.value for d in group_by or []]
        found = info.context.services.queries.usage_buckets(str(self.id), start, end, granularity.value, dims)
        return [
            t.UsageBucket(
                start=b.start,
                provider=b.dimensions.get("provider"),
                model=b.dimensions.get("model"),
                feature=b.dimensions.get("feature"),
                unit=b.dimensions.get("unit"),
                quantities=[t.UnitQuantity(unit=u, quantity=t.BigInt(q)) for u, q in sorted(b.quantities.items())],
                cost=t.Money.of(b.cost, self.currency),
                charge=t.Money.of(b.charge, self.currency),
            )
            for b in found
        ]

    @strawberry.field
    def ledger_entries(
        self, info: Info[TallyContext, None], first: int = 50, after: str | None = None
    ) -> t.LedgerEntryConnection:
        return _entries(info, first, after, customer=str(self.id))


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: t.PageInfo


@strawberry.type
class Ledger:
    as_of: datetime | None

    @strawberry.field
    def trial_balance(self, info: Info[TallyContext, None]) -> t.TrialBalance:
        services = info.context.services
        currencies = services.queries.trial_balance(self.as_of)
        return t.TrialBalance(
            as_of=self.as_of or info.context.clock(),
            currencies=[_currency(c) for c in currencies],
            balanced=all(c.debits == c.credits for c in currencies),
        )

    @strawberry.field
    def entries(
        self, info: Info[TallyContext, None], first: int = 50, after: str | None = None
    ) -> t.LedgerEntryConnection:
        return _entries(info, first, after, customer=None, as_of=self.as_of)


@strawberry.type
class PriceBook:
    id: strawberry.ID
    currency: str
    versions: int


@strawberry.type
class Query:
    @strawberry.field
    def customer(self, info: Info[TallyContext, None], id: strawberry.ID) -> Customer | None:
        if not info.context.may_see(str(id)):
            return None
        try:
            found = info.context.customers.customer(str(id))
        except NotFound:
            return None
        return Customer(
            id=strawberry.ID(found.customer_id),
            name=found.name,
            currency=found.currency,
            billing=found.billing,
            plan=found.plan,
        )

    @strawberry.field
    def customers(
        self, info: Info[TallyContext, None], first: int = 50, after: str | None = None
    ) -> CustomerConnection:
        info.context.require_admin()
        rows = info.context.services.queries.customers(after or "", max(1, min(first, MAX_PAGE)) + 1)
        page = rows[: max(1, min(first, MAX_PAGE))]
        edges = [
            CustomerEdge(
                cursor=row["id"],
                node=Customer(
                    id=strawberry.ID(row["id"]),
                    name=row["name"],
                    currency=row["currency"],
                    billing=row["billing"],
                    plan=row["plan"],
                ),
            )
            for row in page
        ]
        return CustomerConnection(
            edges=edges,
            page_info=t.PageInfo(has_next_page=len(rows) > len(page), end_cursor=page[-1]["id"] if page else None),
        )

    @strawberry.field
    def ledger(self, info: Info[TallyContext, None], as_of: datetime | None = None) -> Ledger:
        info.context.require_admin()
        _require_offset(as_of)
        return Ledger(as_of=as_of)

    @strawberry.field
    def price_book(self, info: Info[TallyContext, None], id: strawberry.ID) -> PriceBook | None:
        info.context.require_admin()
        try:
            book = info.context.catalog.price_book(str(id))
        except NotFound:
            return None
        return PriceBook(id=strawberry.ID(book.price_book_id), currency=book.currency, versions=len(book.versions))


def _require_offset(moment: datetime | None) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError("asOf needs a UTC offset, e.g. 2026-11-26T17:00:00Z")


def _currency(totals: CurrencyTotals) -> t.CurrencyBalance:
    def money(amount: Decimal) -> t.Money:
        return t.Money.of(amount, totals.currency)

    return t.CurrencyBalance(
        currency=totals.currency,
        debits=money(totals.debits),
        credits=money(totals.credits),
        accounts=[
            t.AccountBalance(
                account=a.account,
                type=a.type,
                debits=money(a.debits),
                credits=money(a.credits),
                balance=money(a.balance),
            )
            for a in totals.accounts
        ],
    )


def _entries(
    info: Info[TallyContext, None],
    first: int,
    after: str | None,
    customer: str | None,
    as_of: datetime | None = None,
) -> t.LedgerEntryConnection:
    limit = max(1, min(first, MAX_PAGE))
    start = int(after) if after and is_position(after) else 0
    found = info.context.services.queries.entries(customer=customer, as_of=as_of, after=start, limit=limit + 1)
    page = found[:limit]
    edges = [
        t.LedgerEntryEdge(
            cursor=str(e.position),
            node=t.LedgerEntry(
                id=f"{e.position}:{e.kind}",
                kind=e.kind,
                posted_at=e.posted_at,
                cause_ref=e.cause_ref,
                postings=[
                    t.LedgerPosting(
                        debit_account=p.debit, credit_account=p.credit, amount=t.Money.of(p.amount, p.currency)
                    )
                    for p in e.postings
                ],
            ),
        )
        for e in page
    ]
    return t.LedgerEntryConnection(
        edges=edges,
        page_info=t.PageInfo(has_next_page=len(found) > limit, end_cursor=edges[-1].cursor if edges else None),
    )


SUBSCRIPTION_POLL_SECONDS = 0.05
HOLDS_EVERY_POLLS = 20


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def balance_changed(
        self, info: Info[TallyContext, None], customer_id: strawberry.ID
    ) -> AsyncGenerator[t.Balance, None]:
        """The balance now, then again each time it changes: usage, top-ups,
        corrections and holds. Polls the read model's position (cheap) and
        reads the balance when it moved."""
        services = info.context.services
        customer = str(customer_id)
        if not info.context.may_see(customer):
            raise NotAllowed(f"customer {customer!r} does not exist")
        currency = info.context.customers.customer(customer).currency
        last: tuple[Decimal, Decimal] | None = None
        seen, polls = -1, 0
        while True:
            position = await run_blocking(services.queries.position)
            if position != seen or polls % HOLDS_EVERY_POLLS == 0:
                seen = position
                amount, held = await run_blocking(_balance_now, services, customer, currency)
                if (amount, held) != last:
                    last = (amount, held)
                    yield t.Balance(
                        balance=t.Money.of(amount, currency),
                        held=t.Money.of(held, currency),
                        available=t.Money.of(amount - held, currency),
                        as_of=info.context.clock(),
                    )
            polls += 1
            await asyncio.sleep(SUBSCRIPTION_POLL_SECONDS)


def _balance_now(services: Services, customer: str, currency: str) -> tuple[Decimal, Decimal]:
    return services.app.authorizations.balance_now(customer)


class TallySchema(strawberry.Schema):
    """Logs what a client asked wrongly (a forbidden field, an unknown
    customer, a bad argument) as one line at info level, with its code; only
    an error on tally's side (`internal_error`) is logged with its traceback."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = []
        for error in errors:
            code = (error.extensions or {}).get("code") or code_of(error)
            if code == "internal_error":
                unexpected.append(error)
            else:
                logger.info("graphql %s at %s: %s", code, ".".join(map(str, error.path or ())), error.message)
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = TallySchema(
    query=Query,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map={t.BigInt: t.BIG_INT_SCALAR}),
    extensions=[
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: MaxAliasesLimiter(max_alias_count=20),
        ErrorCodes,
    ],
)


class TallyGraphQLRouter(GraphQLRouter[TallyContext, None]):
    """Answers a body that is not a GraphQL request object with a 400, where
    strawberry itself would fail on it; GraphiQL loads its assets from tally."""

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_html()

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return local_only(HTMLResponse(self.graphql_ide_html))

    async def parse_http_body(self, request: Any) -> Any:
        try:
            parsed = await super().parse_http_body(request)
        except (AttributeError, TypeError) as error:
            raise StrawberryHTTPException(400, "a GraphQL request is a JSON object with a query string") from error
        return parsed


def graphql_router(services: Services) -> GraphQLRouter[TallyContext, None]:
    return TallyGraphQLRouter(schema, context_getter=context_getter(services))
