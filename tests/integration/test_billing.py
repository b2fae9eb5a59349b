"""A month for three customers through billing, against a real local Stripe
server: prepaid (a statement), postpaid with a card that fails until written
off, and invoice (net terms, bank transfers). Every total, balance and the
trial balance is checked against amounts worked out here, independently of
the code under test. Time moves by the application's clock, never by sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from application.audit import audit_history
from application.errors import Conflict, ValidationFailed
from interfaces import presenters
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from tests.clock import clock_of
from tests.stripe_server import DECLINED_CARD, GOOD_CARD, customer_with_card, set_card
from tests.support import event, expected_charge, seed

D = Decimal
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
CENT = D("0.01")


def at(services: Services, moment: datetime) -> None:
    clock_of(services.app).set(moment)


def catch_up(services: Services) -> None:
    services.follower.catch_up()


def month(services: Services, stripe_base: str, postpaid_card: str = DECLINED_CARD) -> dict[str, D]:
    """November: acme prepaid, globex postpaid (card), initech on invoice. Returns each one's exact charge."""
    app = services.app
    services.follower.start()  # billing waits for the read model, as a server's would
    seed(app, customers=("acme",), grant="100")
    app.customers.create_customer(
        "globex", "Globex", "USD", "pro", "postpaid", 30, customer_with_card(stripe_base, postpaid_card)
    )
    app.customers.create_customer("initech", "Initech", "USD", "pro", "invoice", 30, None)
    bodies = {
        "acme": [event(f"a{i}", "acme", model=("gpt-4o", "gpt-4o-mini")[i % 2]) for i in range(7)],
        "globex": [event(f"g{i}", "globex", input_tokens=1000 + i, output_tokens=333) for i in range(11)],
        "initech": [event(f"i{i}", "initech", model="claude-sonnet-4-5") for i in range(5)],
    }
    for batch in bodies.values():
        assert {r.status for r in app.metering.record_usage(batch)} == {"accepted"}
    catch_up(services)
    return {name: sum((expected_charge(b)[1] for b in batch), D(0)) for name, batch in bodies.items()}


def test_a_month_for_three_customers(stripe_services: Services, stripe_base: str) -> None:
    services, app = stripe_services, stripe_services.app
    charged = month(services, stripe_base)
    at(services, DEC_1 + timedelta(minutes=30))
    run = app.billing.billing_run(DEC_1)
    catch_up(services)
    by_customer = {invoice.customer: invoice for invoice in run.invoices}
    assert run.start == datetime(2026, 11, 1, tzinfo=UTC) and run.created

    # Prepaid: a statement of the usage its wallet paid; nothing due.
    statement = by_customer["acme"]
    assert statement.kind == "statement" and statement.status == "paid"
    assert D(statement.figures["total"]) == charged["acme"] and statement.amount_due == 0
    assert services.queries.balance("acme", "USD")[0] == D(100) - charged["acme"]

    # Postpaid: rounded half-even to the cent, charged at once, declined: past due.
    globex = by_customer["globex"]
    globex_due = charged["globex"].quantize(CENT, ROUND_HALF_EVEN)
    assert globex.amount_due == globex_due and globex.status == "payment_failed"
    assert D(globex.figures["rounding"]) == globex_due - charged["globex"]
    assert globex.attempts[0]["code"] == "card_declined"
    assert app.billing.customer_status("globex") == "past_due"
    refused, _ = app.authorizations.authorize("g-auth", "globex", "0.01", None, None)
    assert (refused.approved, refused.code) == (False, "account_past_due")
    assert services.queries.balance("globex", "USD")[0] == -globex_due  # the rounding is posted too
    lines = {(line["model"], line["unit"]): line for line in globex.lines}
    assert lines[("gpt-4o", "input_tokens")]["quantity"] == sum(1000 + i for i in range(11))
    assert sum((D(line["amount"]) for line in globex.lines), D(0)) == charged["globex"]

    # Dunning: 1, 3 and 7 days after issue; then uncollectible, written off.
    for day, status in ((1, "payment_failed"), (3, "payment_failed"), (7, "uncollectible")):
        at(services, globex.issued_at + timedelta(days=day, minutes=1))
        assert app.billing.retry_due_charges() == 1
        catch_up(services)
        assert app.billing.retry_due_charges() == 0  # nothing else is due
        assert app.billing.invoice(globex.invoice_id).status == status
    written_off = services.queries.entries(account="expenses:write-offs", limit=10)
    assert [(e.kind, e.postings[0].amount) for e in written_off] == [("write-off", globex_due)]
    assert services.queries.balance("globex", "USD")[0] == 0
    assert len(app.billing.invoice(globex.invoice_id).attempts) == 4

    # Invoice customer: due after 30 days, paid by transfers, overdue in between.
    initech = by_customer["initech"]
    initech_due = charged["initech"].quantize(CENT, ROUND_HALF_EVEN)
    assert initech.status == "open" and initech.amount_due == initech_due
    assert initech.due_at == initech.issued_at + timedelta(days=30)
    assert not presenters.invoice(initech, initech.due_at)["overdue"]
    assert presenters.invoice(initech, initech.due_at + timedelta(seconds=1))["overdue"]
    app.billing.record_invoice_payment(initech.invoice_id, "0.01", "wire-1")
    app.billing.record_invoice_payment(initech.invoice_id, "0.01", "wire-1")  # the same transfer again: nothing more
    with pytest.raises(ValidationFailed, match="more than the"):
        app.billing.record_invoice_payment(initech.invoice_id, str(initech_due), "wire-2")
    app.billing.record_invoice_payment(initech.invoice_id, str(initech_due - CENT), "wire-2")
    assert app.billing.invoice(initech.invoice_id).status == "paid"
    catch_up(services)
    assert services.queries.balance("initech", "USD")[0] == 0

    # The run again: nothing new. The books: balanced, audited, replayable.
    again = app.billing.billing_run(DEC_1)
    assert not again.created and [i.invoice_id for i in again.invoices] == [i.invoice_id for i in run.invoices]
    catch_up(services)
    (usd,) = services.queries.trial_balance()
    assert usd.debits == usd.credits
    accounts = {a.account: a.balance for a in usd.accounts}
    assert accounts["assets:cash:bank"] == initech_due
    assert accounts["revenue:usage"] == charged["acme"] + charged["globex"] + charged["initech"]
    assert audit_history(services.app).problems == []
    decode = app.store.mapper.to_domain_event
    assert rebuild.audit_views(app.store.recorder, decode, services.database, LIVE_PREFIX) == []


def test_a_card_that_works_again_pays_on_a_retry(stripe_services: Services, stripe_base: str) -> None:
    services, app = stripe_services, stripe_services.app
    charged = month(services, stripe_base)
    at(services, DEC_1 + timedelta(minutes=30))
    (globex,) = app.billing.billing_run(DEC_1, customers=["globex"]).invoices
    catch_up(services)
    assert globex.status == "payment_failed"
    stripe_customer = app.customers.customer("globex").stripe_customer_id
    assert stripe_customer is not None
    set_card(stripe_base, stripe_customer, GOOD_CARD)
    at(services, globex.issued_at + timedelta(days=1, minutes=1))
    assert app.billing.retry_due_charges() == 1
    paid = app.billing.invoice(globex.invoice_id)
    assert paid.status == "paid" and paid.payment_intent
    catch_up(services)
    assert app.billing.customer_status("globex") == "active"
    assert services.queries.balance("globex", "USD")[0] == 0
    cash = [a.balance for a in services.queries.trial_balance()[0].accounts if a.account == "assets:cash:stripe"]
    assert cash == [charged["globex"].quantize(CENT, ROUND_HALF_EVEN)]


def test_late_usage_and_corrections_go_to_the_next_invoice(stripe_services: Services, stripe_base: str) -> None:
    services, app = stripe_services, stripe_services.app
    charged = month(services, stripe_base, postpaid_card=GOOD_CARD)
    at(services, DEC_1 + timedelta(minutes=30))
    (november,) = app.billing.billing_run(DEC_1, customers=["initech"]).invoices
    catch_up(services)
    late = event("late", "initech", model="claude-sonnet-4-5", timestamp="2026-11-30T22:00:00Z")
    december = event("dec", "initech", model="claude-sonnet-4-5", timestamp="2026-12-05T10:00:00Z")
    at(services, datetime(2026, 12, 6, tzinfo=UTC))
    app.metering.record_usage([late, december])
    # A backdated price cut on claude-sonnet-4-5 re-rates November's invoiced usage: a credit note.
    cut = [
        {"provider": "anthropic", "model": "claude-sonnet-4-5", "unit": "input_tokens", "price": "1.5", "per": 1_000_000},
        {"provider": "anthropic", "model": "claude-sonnet-4-5", "unit": "output_tokens", "price": "7.5", "per": 1_000_000},
    ]  # fmt: skip
    book = app.catalog.price_book("default")
    rates = [r.as_dict() for r in book.versions[-1].rates if r.model != "claude-sonnet-4-5"] + cut
    app.catalog.publish_price_version("default", datetime(2026, 11, 1, tzinfo=UTC), rates, "manual")
    catch_up(services)
    app.rerating.rerate(price_book="default", since=datetime(2026, 11, 1, tzinfo=UTC), reason="price cut")
    catch_up(services)
    at(services, datetime(2027, 1, 1, 1, tzinfo=UTC))
    (january,) = app.billing.billing_run(datetime(2027, 1, 1, tzinfo=UTC), customers=["initech"]).invoices
    catch_up(services)
    assert D(november.figures["total"]) == charged["initech"].quantize(CENT, ROUND_HALF_EVEN)  # stays as issued
    half = expected_charge(december)[1] / 2  # each event at the halved prices
    late_lines = [line for line in january.lines if line["late"]]
    assert sum((D(line["amount"]) for line in late_lines), D(0)) == half  # the late event, billed now
    assert sum((D(line["amount"]) for line in january.lines if not line["late"]), D(0)) == half
    (note,) = january.notes
    assert note["invoice"] == november.invoice_id and note["kind"] == "credit"
    assert D(note["total"]) == -(charged["initech"] - 5 * half)  # November's five events, re-rated
    expected_total = (2 * half + D(note["total"])).quantize(CENT, ROUND_HALF_EVEN)
    assert D(january.figures["total"]) == expected_total
    receivable = services.queries.balance("initech", "USD")[0]
    assert receivable == -(D(november.figures["total"]) + expected_total)
    with pytest.raises(Conflict):  # periods are billed in order
        app.billing.billing_run(DEC_1 + timedelta(days=14), customers=["initech"], period_start=DEC_1)
    assert audit_history(app).problems == []


def test_the_audit_finds_an_invoice_whose_figures_do_not_follow_from_its_lines(stripe_services: Services) -> None:
    from domain.invoice import Invoice

    app = stripe_services.app
    seed(app, customers=("acme",))
    forged = Invoice(
        invoice_id="acme.20261001.20261101", customer="acme", kind="invoice", billing="invoice", currency="USD",
        period_start=DEC_1 - timedelta(days=61), period_end=DEC_1 - timedelta(days=30), cut=0,
        lines=[{"provider": "openai", "model": "gpt-4o", "unit": "input_tokens", "late": False, "quantity": 1,
                "unit_price": "1", "cost": "1", "markup": "0", "amount": "1.004"}],
        tiers=[], notes=[],
        figures={"subtotal": "1.004", "tier_adjustment": "0", "corrections": "0", "total_exact": "1.004",
                 "total": "1.01", "rounding": "0.006", "credits_applied": "0", "credit_carried": "0",
                 "amount_due": "1.01"},
        issued_at=DEC_1, due_at=DEC_1, entry=None,
    )  # fmt: skip
    app.store.save(forged)
    problems = audit_history(app).problems
    assert any("states wrong amount_due, rounding, total" in p for p in problems), problems
    assert any("posts 0 of rounding" in p for p in problems), problems
