"""Domain and read-model objects as JSON-ready dicts (money as strings),
shared by REST, the CLI and exports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.card_top_up import CardTopUp
from domain.catalog import Plan, PriceBook
from domain.customer import Customer
from domain.customer_prices import charged_lines
from domain.holds import Authorization
from domain.invoice import Invoice
from domain.money import format_amount
from domain.plans import Tiers
from domain.pricing import PriceVersion
from domain.rating import Rating
from domain.top_up import TopUp
from domain.usage import Usage
from projections.queries import CurrencyTotals, Entry

SourceOf = Callable[[str, int], str | None]
INVOICE_LINE_AMOUNTS = ("unit_price", "cost", "markup", "amount")
OPERATOR_LINE_FIELDS = frozenset({"cost", "markup"})  # what the provider charged and what the plan added


def money(amount: Decimal) -> str:
    return format_amount(amount)


def price_version(version: PriceVersion) -> dict[str, Any]:
    return {
        "version": version.number,
        "effective_from": version.effective_from.isoformat(),
        "source": version.source,
        "rates": [
            {"provider": r.provider, "model": r.model, "unit": r.unit, "price": money(r.price), "per": r.per}
            for r in version.rates
        ],
    }


def price_book(book: PriceBook, *, with_rates: bool = False) -> dict[str, Any]:
    versions = []
    for version in book.versions:
        shown = price_version(version)
        if not with_rates:
            shown["rates_count"] = len(shown.pop("rates"))
        versions.append(shown)
    return {"id": book.price_book_id, "currency": book.currency, "versions": versions}


def plan(found: Plan) -> dict[str, Any]:
    current = found.versions[-1]
    return {
        "id": found.plan_id,
        "price_book": found.price_book,
        "markup_percent": money(current.markup_percent),
        "tiers": tiers(current.tiers),
        "model_overrides": [
            {"provider": o.provider, "model": o.model, "markup_percent": money(o.markup_percent)}
            for o in current.model_overrides
        ],
        "versions": [
            {
                "version": v.number,
                "effective_from": v.effective_from.isoformat(),
                "markup_percent": money(v.markup_percent),
                "tiers": tiers(v.tiers),
                "model_overrides": [
                    {"provider": o.provider, "model": o.model, "markup_percent": money(o.markup_percent)}
                    for o in v.model_overrides
                ],
            }
            for v in found.versions
        ],
    }


def tiers(ladder: Tiers | None) -> dict[str, Any] | None:
    if ladder is None:
        return None
    return {
        "mode": ladder.mode,
        "tiers": [
            {"up_to": None if t.up_to is None else money(t.up_to), "markup_percent": money(t.markup_percent)}
            for t in ladder.tiers
        ],
    }


def customer(found: Customer, status: str = "active") -> dict[str, Any]:
    return {**found.summary(), "status": status, "auto_top_up": found.auto_top_up, "limits": found.limits}


def top_up(found: TopUp | CardTopUp) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": found.top_up_id,
        "customer": found.customer,
        "amount": money(found.amount),
        "currency": found.currency,
        "source": found.source,
        "status": found.status,
        "expires_at": found.expires_at.isoformat() if found.expires_at else None,
        "created_at": found.created_on.isoformat(),
        "payment_intent": None,
        "failure": None,
        "refunded": "0",
    }
    if isinstance(found, CardTopUp):
        shown.update(payment_intent=found.payment_intent, failure=found.failure, refunded=money(found.returned))
    return shown


def rating(found: Rating, source_of: SourceOf | None = None, *, operator: bool = False) -> dict[str, Any]:
    """The operator sees the provider's prices, the cost and the markup; a
    customer sees what it pays per unit and per line, and the charge."""
    if not operator:
        return _charged_rating(found)
    return {
        "price_book": found.price_book,
        "price_version": found.price_version,
        "price_source": source_of(found.price_book, found.price_version) if source_of else None,
        "plan": found.plan,
        "plan_version": found.plan_version,
        "markup_percent": money(found.markup_percent),
        "currency": found.currency,
        "cost": money(found.cost),
        "charge": money(found.charge),
        "lines": [
            {
                "unit": ln.unit,
                "quantity": ln.quantity,
                "price": money(ln.price),
                "per": ln.per,
                "cost": money(ln.cost),
                "amount": money(charged.amount),
            }
            for ln, charged in zip(found.lines, charged_lines(found), strict=True)
        ],
    }


def _charged_rating(found: Rating) -> dict[str, Any]:
    """No cost, markup or price source: where the operator's prices come from
    would tell a customer its cost base."""
    return {
        "price_book": found.price_book,
        "price_version": found.price_version,
        "plan": found.plan,
        "plan_version": found.plan_version,
        "currency": found.currency,
        "charge": money(found.charge),
        "lines": [
            {
                "unit": ln.unit,
                "quantity": ln.quantity,
                "price": money(ln.price),
                "per": ln.per,
                "amount": money(ln.amount),
            }
            for ln in charged_lines(found)
        ],
    }


def usage(found: Usage, source_of: SourceOf | None = None, *, operator: bool = False) -> dict[str, Any]:
    return {
        "id": found.event_id,
        "customer": found.customer,
        "timestamp": found.occurred_at.isoformat(),
        "provider": found.provider,
        "model": found.model,
        "feature": found.feature,
        "usage": found.usage,
        "authorization_id": found.authorization_id,
        "metadata": found.metadata,
        "recorded_at": found.created_on.isoformat(),
        "status": "rated" if found.rating else "unpriced",
        "rating": rating(found.rating, source_of, operator=operator) if found.rating else None,
        "ratings": [rating(r, source_of, operator=operator) for r in found.ratings],
    }


def entry(found: Entry) -> dict[str, Any]:
    return {
        "id": f"{found.position}:{found.kind}",
        "position": found.position,
        "kind": found.kind,
        "customer": found.customer,
        "posted_at": found.posted_at,
        "cause": {"type": found.cause_type, "id": found.cause_id, "ref": found.cause_ref},
        "postings": [
            {"debit_account": p.debit, "credit_account": p.credit, "amount": money(p.amount), "currency": p.currency}
            for p in found.postings
        ],
    }


def trial_balance(as_of: datetime, currencies: list[CurrencyTotals]) -> dict[str, Any]:
    return {
        "as_of": as_of.isoformat(),
        "currencies": [
            {
                "currency": c.currency,
                "debits": money(c.debits),
                "credits": money(c.credits),
                "accounts": [
                    {
                        "account": a.account,
                        "type": a.type,
                        "debits": money(a.debits),
                        "credits": money(a.credits),
                        "balance": money(a.balance),
                    }
                    for a in c.accounts
                ],
            }
            for c in currencies
        ],
    }


def invoice(found: Invoice, now: datetime, *, operator: bool = False) -> dict[str, Any]:
    """The operator sees each line's cost and markup and their total; a
    customer (and its PDF) sees quantities, unit prices and amounts."""
    figures = found.figures
    shown = {
        "id": found.invoice_id,
        "customer": found.customer,
        "kind": found.kind,
        "billing": found.billing,
        "currency": found.currency,
        "period_start": found.period_start.isoformat(),
        "period_end": found.period_end.isoformat(),
        "issued_at": found.issued_at.isoformat(),
        "due_at": found.due_at.isoformat() if found.due_at else None,
        "status": found.status,
        "overdue": found.is_overdue(now),
        "lines": [_invoice_line(line, operator) for line in found.lines],
        "markup": money(sum((Decimal(line["markup"]) for line in found.lines), Decimal(0))),
        "adjustments": [
            *(
                {"kind": "tiers", "period": t["period"], "late": t["late"], "amount": money(Decimal(t["amount"]))}
                for t in found.tiers
            ),
            *(
                {
                    "kind": f"{n['kind']}_note",
                    "note": n["id"],
                    "invoice": n["invoice"],
                    "amount": money(Decimal(n["total"])),
                    "lines": [{**ln, "amount": money(Decimal(ln["amount"]))} for ln in n["lines"]],
                }
                for n in found.notes
            ),
        ],
        "subtotal": money(Decimal(figures["subtotal"])),
        "rounding": money(Decimal(figures["rounding"])),
        "total": money(Decimal(figures["total"])),
        "credits_applied": money(Decimal(figures["credits_applied"])),
        "amount_due": money(found.amount_due),
        "amount_paid": money(found.amount_paid),
        "amount_remaining": money(found.amount_remaining),
        "attempts": found.attempts,
        "payment_intent": found.payment_intent,
        "next_attempt_at": found.next_attempt_at.isoformat() if found.next_attempt_at else None,
    }
    if not operator:
        del shown["markup"]
    return shown


def _invoice_line(line: dict[str, Any], operator: bool) -> dict[str, Any]:
    shown = {**line, **{k: money(Decimal(line[k])) for k in INVOICE_LINE_AMOUNTS if k in line}}
    return shown if operator else {k: v for k, v in shown.items() if k not in OPERATOR_LINE_FIELDS}


def authorization(found: Authorization, status: str) -> dict[str, Any]:
    return {
        "id": found.authorization_id,
        "customer": found.customer,
        "status": status,
        "amount": money(found.amount),
        "held": money(found.amount if found.approved else Decimal(0)),
        "available": money(found.available),
        "code": found.code,
        "expires_at": found.expires_at.isoformat(),
        "decided_at": found.decided_at.isoformat(),
    }
