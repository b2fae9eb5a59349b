"""One model-based run: three price books (two in USD, one of them leaving
out two models at first, and one in EUR) and five plans (three in USD, two
in EUR), seven customers (in USD: two prepaid, one of them with a card that
declines, two postpaid, one of them with a card that declines, one paying
invoices by bank transfer; in EUR: one prepaid, one paying invoices), then
a seeded random interleaving of steps, each sent to one of the real server
processes and applied to the model, and at the end the whole ledger
compared: balances, spend, usage buckets, every usage event's rating (and
the plan and versions it names), invoices, the trial balance per currency;
then `tally audit` and `tally replay`, and the same comparison after the
replay."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.model import (
    billing_steps,
    catalog_steps,
    hold_pile_steps,
    lifecycle_steps,
    metering_steps,
    money_steps,
    plan_change_steps,
    race_steps,
    refund_steps,
)
from tests.model.ledger_model import Customer, LedgerModel
from tests.model.observations import await_agreement, rating_problems
from tests.model.rating_model import PlanVersion, PriceVersion
from tests.model.run_state import Run
from tests.model.server_session import ServerSession
from tests.model.workload import FIRST_EFFECTIVE, Calendar, Workload, first_rates, rate_rows
from tests.stripe_server import DECLINED_CARD, GOOD_CARD, customer_with_card

PLAN_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)  # a plan's first version holds from the start of time
CUSTOMERS = (  # id, billing, plan, card
    ("acme", "prepaid", "pro", "good"),
    ("bolt", "prepaid", "lite", "declined"),
    ("globex", "postpaid", "pro", "good"),
    ("hooli", "postpaid", "lite", "declined"),
    ("initech", "invoice", "lite", None),
    ("dupont", "prepaid", "euro", None),
    ("duval", "invoice", "euro", None),
)
OPENING_GRANTS = {"acme": Decimal("3.00"), "bolt": Decimal("0.50"), "dupont": Decimal("2.00")}
Step = Callable[[Run], None]
STEPS: dict[str, tuple[float, Step]] = {
    "usage batch": (30, metering_steps.send_usage),
    "usage burst": (1.5, metering_steps.send_burst),
    "usage racing a version": (1.5, race_steps.usage_racing_a_version),
    "usage then an authorization": (2, race_steps.spend_then_authorize),
    "usage racing a plan change": (1, plan_change_steps.usage_racing_a_change),
    "price version": (5, catalog_steps.publish_prices),
    "plan version": (3, catalog_steps.publish_plan),
    "plan change": (3, plan_change_steps.change_plan),
    "grant": (5, money_steps.grant),
    "card top-up": (3, money_steps.card_top_up),
    "refund or dispute": (1.5, refund_steps.take_back),
    "authorization": (10, money_steps.authorize),
    "authorizations racing": (1.5, race_steps.authorizations_racing),
    "void": (3, money_steps.void),
    "pile of holds": (0.7, hold_pile_steps.pile_of_holds),
    "limits": (1.5, money_steps.set_limits),
    "billing run": (2, billing_steps.bill),
    "bank transfer": (2, billing_steps.pay_invoice),
    "checkpoint": (4, lifecycle_steps.checkpoint),
    "restart": (1, lifecycle_steps.restart),
    "replay": (1, lifecycle_steps.replay),
    "audit": (0.5, lifecycle_steps.audit),
}


def new_run(session: ServerSession, seed: int) -> Run:
    rng = random.Random(seed)
    calendar = Calendar.now()
    model = LedgerModel()
    run = Run(session, model, rng, calendar, Workload(rng, calendar))
    run.billing_periods = calendar.billing_periods()
    return run


def set_up(run: Run) -> None:
    run.session.start()
    set_up_catalog(run)
    for customer, billing, plan, card in CUSTOMERS:
        set_up_customer(run, customer, billing, plan, card)


def set_up_catalog(run: Run) -> None:
    post = run.session.post
    for price_book, currency in catalog_steps.PRICE_BOOKS.items():
        assert post("/v1/price-books", {"id": price_book, "currency": currency}).status_code == 201
        rates = first_rates(price_book)
        first = {"effective_from": FIRST_EFFECTIVE.isoformat(), "rates": rate_rows(rates)}
        assert post(f"/v1/price-books/{price_book}/versions", first).status_code == 201
        run.model.add_price_book(price_book, currency, PriceVersion(1, FIRST_EFFECTIVE, rates))
    for plan, (price_book, markup, overrides) in catalog_steps.PLANS.items():
        rows = [{"provider": p, "model": m, "markup_percent": str(percent)} for (p, m), percent in overrides.items()]
        body = {"id": plan, "price_book": price_book, "markup_percent": str(markup), "model_overrides": rows}
        assert post("/v1/plans", body).status_code == 201
        run.model.add_plan(plan, price_book, PlanVersion(1, PLAN_BEGINNING, markup, overrides))


def set_up_customer(run: Run, customer: str, billing: str, plan: str, card: str | None) -> None:
    currency = catalog_steps.PRICE_BOOKS[catalog_steps.PLANS[plan][0]]
    body: dict[str, Any] = {"id": customer, "name": customer.title(), "currency": currency, "plan": plan,
                            "billing": billing, "net_terms_days": 30}  # fmt: skip
    if card:
        number = GOOD_CARD if card == "good" else DECLINED_CARD
        body["stripe_customer_id"] = customer_with_card(run.session.stripe_base, number)
    assert run.session.post("/v1/customers", body).status_code == 201
    run.model.add_customer(Customer(customer, billing, plan, currency, card))
    if customer in OPENING_GRANTS:
        grant = {"id": "opening", "amount": str(OPENING_GRANTS[customer]), "source": "grant"}
        assert run.session.post(f"/v1/customers/{customer}/top-ups", grant).status_code == 201
        run.model.customers[customer].grants += OPENING_GRANTS[customer]


def drive(run: Run, steps: int) -> None:
    names = sorted(STEPS)
    weights = [STEPS[name][0] for name in names]
    for number in range(steps):
        name = run.rng.choices(names, weights)[0]
        run.session.note({"step": number, "kind": name})
        started = time.monotonic()
        STEPS[name][1](run)
        run.seconds[name] += time.monotonic() - started
        run.counts[f"step: {name}"] += 1


def finish(run: Run) -> None:
    """The closing comparison, once nothing more is sent."""
    await_agreement(run.model, run.session, "at the end of the run")
    run.model.settle()
    run.quiet = True
    mismatched = rating_problems(run.model, run.session)
    assert not mismatched, "usage events rated otherwise than the model says:\n  " + "\n  ".join(mismatched[:40])
    last_end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    for period in run.billing_periods[len(run.billed) :]:
        billing_steps.close_period(run, period)
    if last_end > run.billed[-1][1]:  # today's usage so far, up to a second ago
        billing_steps.close_period(run, (run.billed[-1][1], last_end))
    billing_steps.check_invoiced(run, run.billed[-1][1])
    await_agreement(run.model, run.session, "after the last billing run")
    lifecycle_steps.audit(run)
    replayed = run.session.cli("replay")
    assert replayed.returncode == 0, f"tally replay exited {replayed.returncode}:\n{replayed.stderr}"
    await_agreement(run.model, run.session, "after tally replay")


def summary(run: Run, store: str, seed: int) -> str:
    steps = sum(count for name, count in run.counts.items() if name.startswith("step: "))
    kinds = ", ".join(f"{name[6:]} {count}" for name, count in sorted(run.counts.items()) if name.startswith("step: "))
    details = ", ".join(f"{name} {count}" for name, count in sorted(run.counts.items()) if not name.startswith("step"))
    spent = ", ".join(
        f"{name} {run.seconds[name]:.1f}" for name in sorted(run.seconds, key=run.seconds.__getitem__, reverse=True)
    )
    processes = "one server process" if run.session.processes == 1 else f"{run.session.processes} server processes"
    return (
        f"model-based run on {store}, {processes} (seed {seed}): {steps} steps ({kinds}); "
        f"{len(run.model.usage)} usage events recorded; {details}; seconds per step kind: {spent}"
    )
