"""What the server shows, set against what the model says it must show:
every customer's balance, held and available amounts, its current period's
spend and daily usage buckets in GraphQL, its invoices, and every account
of the trial balance. The system is eventually consistent (re-rating runs
behind the version that causes it), so agreement is awaited by polling,
never by timing; a deadline that passes fails with the differences."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.model.authorization_model import EXPIRY_SLACK
from tests.model.ledger_model import LedgerModel
from tests.model.rating_model import Rating, Usage, rate_under
from tests.model.server_session import ServerSession

AGREEMENT_SECONDS = 120.0
POLL_SECONDS = 0.25
USAGE_QUERY = (
    '{alias}: customer(id: "{customer}") {{ currentPeriod {{ start end spend {{ amount }} }} '
    'usage(from: "{start}", to: "{end}", granularity: DAY, groupBy: [PROVIDER, MODEL]) '
    "{{ start provider model charge {{ amount }} }} }}"
)


def differences(model: LedgerModel, session: ServerSession) -> list[str]:
    found = []
    for customer in sorted(model.customers):
        found += plan_differences(model, session, customer)
        found += balance_differences(model, session, customer)
        found += invoice_differences(model, session, customer)
    found += graphql_differences(model, session)
    found += trial_balance_differences(model, session)
    return found


def await_agreement(model: LedgerModel, session: ServerSession, what: str) -> float:
    """Poll until the server shows what the model says; returns the seconds it took."""
    started = time.monotonic()
    while True:
        found = differences(model, session)
        if not found:
            return time.monotonic() - started
        if time.monotonic() - started > AGREEMENT_SECONDS:
            listed = "\n  ".join(found[:40] + rating_problems(model, session)[:40])
            raise AssertionError(
                f"{what}: after {AGREEMENT_SECONDS:.0f} s the server still differs from the model "
                f"({len(found)} differences; requests in {session.log_path}):\n  {listed}"
            )
        time.sleep(POLL_SECONDS)


def hold_near_expiry(model: LedgerModel, customer: str, moment: datetime) -> bool:
    """Whether a hold may expire while the balance is read (a slow read included)."""
    return any(
        h.customer == customer
        and not (h.voided or h.captured)
        and moment - EXPIRY_SLACK <= h.expires_at <= moment + 3 * EXPIRY_SLACK
        for h in model.holds.values()
    )


def plan_differences(model: LedgerModel, session: ServerSession, customer: str) -> list[str]:
    shown = session.get(f"/v1/customers/{customer}").json()["plan"]
    expected = model.customers[customer].plan
    return [] if shown == expected else [f"{customer} plan: model {expected}, server {shown}"]


def balance_differences(model: LedgerModel, session: ServerSession, customer: str) -> list[str]:
    now = datetime.now(UTC)
    if hold_near_expiry(model, customer, now):
        return [f"{customer}: a hold is at its expiry; read again once it has passed"]
    shown = session.get(f"/v1/customers/{customer}/balance").json()
    balance, held = model.balance(customer), model.held(customer, now)
    expected = {"balance": balance, "held": held, "available": balance - held}
    return [
        f"{customer} {name}: model {amount}, server {shown[name]}"
        for name, amount in expected.items()
        if Decimal(shown[name]) != amount
    ]


def invoice_differences(model: LedgerModel, session: ServerSession, customer: str) -> list[str]:
    shown = {i["id"]: i for i in session.get(f"/v1/customers/{customer}/invoices").json()["invoices"]}
    expected = {invoice.invoice_id: invoice for invoice in model.customers[customer].invoices}
    if set(shown) != set(expected):
        return [f"{customer} invoices: model {sorted(expected)}, server {sorted(shown)}"]
    found = []
    for invoice_id, invoice in expected.items():
        server = shown[invoice_id]
        for name, amount in (("total", invoice.total), ("amount_paid", invoice.amount_paid)):
            if Decimal(server[name]) != amount:
                found.append(f"invoice {invoice_id} {name}: model {amount}, server {server[name]}")
        if server["status"] != invoice.status:
            found.append(f"invoice {invoice_id} status: model {invoice.status}, server {server['status']}")
    return found


def graphql_differences(model: LedgerModel, session: ServerSession) -> list[str]:
    names = sorted(model.customers)
    start = model_start(model)
    end = datetime.now(UTC) + timedelta(days=1)
    query = " ".join(
        USAGE_QUERY.format(alias=f"c{i}", customer=name, start=start.isoformat(), end=end.isoformat())
        for i, name in enumerate(names)
    )
    data = session.graphql("{ " + query + " }")
    found = []
    for i, name in enumerate(names):
        shown = data[f"c{i}"]
        period = shown["currentPeriod"]
        spend = model.spend(name, parse_time(period["start"]), parse_time(period["end"]))
        if Decimal(period["spend"]["amount"]) != spend:
            found.append(f"{name} currentPeriod.spend: model {spend}, server {period['spend']['amount']}")
        found += bucket_differences(model, name, shown["usage"], start, end)
    return found


def bucket_differences(
    model: LedgerModel, customer: str, buckets: list[dict[str, object]], start: datetime, end: datetime
) -> list[str]:
    shown: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for bucket in buckets:
        charge = bucket["charge"]
        assert isinstance(charge, dict)
        shown[(parse_time(str(bucket["start"])).date().isoformat(), str(bucket["provider"]), str(bucket["model"]))] += (
            Decimal(charge["amount"])
        )
    expected: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for usage in model.usage_of(customer):
        if start <= usage.timestamp < end:
            day = usage.timestamp.astimezone(UTC).date().isoformat()
            expected[(day, usage.provider, usage.model)] += model.charge(usage)
    keys = {key for key, amount in shown.items() if amount} | {key for key, amount in expected.items() if amount}
    return [
        f"{customer} usage bucket {key}: model {expected[key]}, server {shown[key]}"
        for key in sorted(keys)
        if shown[key] != expected[key]
    ]


def trial_balance_differences(model: LedgerModel, session: ServerSession) -> list[str]:
    currencies = session.get("/v1/ledger/trial-balance").json()["currencies"]
    found = [f"{c['currency']}: debits {c['debits']} != credits {c['credits']}" for c in currencies
             if Decimal(c["debits"]) != Decimal(c["credits"])]  # fmt: skip
    shown = {
        (c["currency"], a["account"]): Decimal(a["balance"])
        for c in currencies
        for a in c["accounts"]
        if Decimal(a["balance"])
    }
    expected = model.accounts()
    for key in sorted(set(shown) | set(expected)):
        if shown.get(key, Decimal(0)) != expected.get(key, Decimal(0)):
            found.append(f"{key[0]} account {key[1]}: model {expected.get(key, 0)}, server {shown.get(key, 0)}")
    return found


def rating_problems(model: LedgerModel, session: ServerSession) -> list[str]:
    """Every usage event's own rating, as `GET /v1/events/{customer}/{id}` shows it:
    rated or unpriced, its charge and cost, and terms that give them. A rating
    names the plan and versions that made it, and a re-rating that would not
    change the amounts is not made (docs/rating.md), so the terms named may be
    older ones than the model's, or another plan's, that give the same amounts."""
    problems = []
    for (customer, event_id), usage in model.usage.items():
        shown = session.get(f"/v1/events/{customer}/{event_id}").json()
        rating = model.rating(usage)
        expected = ("unpriced", None, None) if rating is None else ("rated", rating.charge, rating.cost)
        found = shown["rating"] or {}
        server = (shown["status"], _decimal(found.get("charge")), _decimal(found.get("cost")))
        problem = None
        if server != expected:
            problem = f"model {expected}, server {server}"
        elif rating is not None:
            problem = named_terms_problem(model, usage, found, rating)
        if problem:
            problems.append(f"{customer}/{event_id} at {usage.timestamp.isoformat()} {usage.provider}/{usage.model} "
                            f"(under {model.plan_of(usage)}): {problem}")  # fmt: skip
    return problems


def named_terms_problem(model: LedgerModel, usage: Usage, found: dict[str, Any], rating: Rating) -> str | None:
    """Whether the price book, plan and versions a rating names give its amounts
    (and the plan is one the customer has been on)."""
    book, plan = str(found["price_book"]), str(found["plan"])
    price_number, plan_number = int(found["price_version"]), int(found["plan_version"])
    if model.price_book_of.get(plan) != book:
        return f"the rating names plan {plan} with price book {book}"
    if plan not in model.customers[usage.customer].plans.plans():
        return f"the rating names plan {plan}, which the customer has never been on"
    if not (0 < price_number <= len(model.prices[book]) and 0 < plan_number <= len(model.plans[plan])):
        return f"the rating names {book} version {price_number}, {plan} version {plan_number}, never published"
    again = rate_under(usage, model.prices[book][price_number - 1], model.plans[plan][plan_number - 1])
    if again is None or (again.charge, again.cost) != (rating.charge, rating.cost):
        return (f"the rating names {book} version {price_number} and {plan} version {plan_number}, which give "
                f"{again}, not the model's charge {rating.charge} and cost {rating.cost}")  # fmt: skip
    return None


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def model_start(model: LedgerModel) -> datetime:
    """Where the usage buckets are read from: before every usage of the run."""
    earliest = min((usage.timestamp for usage in model.usage.values()), default=datetime.now(UTC))
    return earliest.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
