"""Card top-ups through a real local Stripe server, driven by the official
stripe library: the wallet is credited only when the payment succeeds, once,
whichever of the answer and the webhook comes first; a decline leaves it as
it was and says why; refunds and disputes take the money back out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from application.audit import audit_history
from application.errors import Conflict, ValidationFailed
from application.ports import PaymentNotice, PaymentOutcome
from interfaces.bootstrap import Services
from tests.stripe_server import DECLINED_CARD, client, customer_with_card
from tests.support import seed


@pytest.fixture
def services(stripe_services: Services) -> Services:
    return stripe_services


def wallet(services: Services) -> Decimal:
    services.follower.catch_up()
    return services.queries.balance("acme", "USD")[0]


def test_a_card_top_up_credits_the_wallet_once(services: Services, stripe_base: str) -> None:
    seed(services.app, customers=("acme",), grant="5")
    services.app.customers.update_customer("acme", None, None, None, customer_with_card(stripe_base))
    top_up, created = services.app.wallets.top_up("acme", "card_1", "25.00", "stripe", None)
    assert created and top_up.status == "succeeded" and top_up.payment_intent
    assert wallet(services) == Decimal("30")
    again, created_again = services.app.wallets.top_up("acme", "card_1", "25.00", "stripe", None)
    assert not created_again and again.status == "succeeded"
    # Stripe's webhook for the same payment, after the answer: nothing more.
    notice = PaymentNotice(
        "evt_1", "payment", top_up.payment_intent, None, ("top_up", "acme", "card_1"),
        outcome=PaymentOutcome("succeeded", top_up.payment_intent),
    )  # fmt: skip
    services.app.payment_notices.handle_payment_notice(notice)
    late_failure = PaymentNotice(
        "evt_2", "payment", top_up.payment_intent, None, ("top_up", "acme", "card_1"),
        outcome=PaymentOutcome("failed", top_up.payment_intent, None, "card_declined", "late"),
    )  # fmt: skip
    services.app.payment_notices.handle_payment_notice(late_failure)  # out of order: a success stands
    assert wallet(services) == Decimal("30")
    intents = client(stripe_base).v1.payment_intents.list(params={"limit": 100}).data
    assert len([i for i in intents if i.customer == top_up_customer(services)]) == 1  # charged once
    entries = list(services.queries.entries(account="assets:cash:stripe", limit=10))
    assert [(e.kind, e.postings[0].amount) for e in entries] == [("top-up", Decimal("25"))]
    with pytest.raises(Conflict):
        services.app.wallets.top_up("acme", "card_1", "30.00", "stripe", None)
    assert audit_history(services.app).problems == []


def top_up_customer(services: Services) -> str:
    found = services.app.customers.customer("acme").stripe_customer_id
    assert found is not None
    return found


def test_a_declined_card_leaves_the_wallet_and_says_why(services: Services, stripe_base: str) -> None:
    seed(services.app, customers=("acme",), grant="5")
    services.app.customers.update_customer("acme", None, None, None, customer_with_card(stripe_base, DECLINED_CARD))
    top_up, _ = services.app.wallets.top_up("acme", "card_1", "25.00", "stripe", None)
    assert top_up.status == "failed"
    assert top_up.failure is not None and top_up.failure["code"] == "card_declined"
    assert "declined" in top_up.failure["message"]
    assert wallet(services) == Decimal("5")


def test_refunds_and_disputes_take_funds_back_once(services: Services, stripe_base: str) -> None:
    seed(services.app, customers=("acme",), grant="5")
    services.app.customers.update_customer("acme", None, None, None, customer_with_card(stripe_base))
    top_up, _ = services.app.wallets.top_up("acme", "card_1", "25.00", "stripe", None)
    refund = client(stripe_base).v1.refunds.create(params={"payment_intent": top_up.payment_intent, "amount": 1000})
    notice = PaymentNotice("evt_r", "refund", top_up.payment_intent, refund.charge, None, refunded_total=Decimal(10))
    services.app.payment_notices.handle_payment_notice(notice)  # no metadata on the charge: looked up in Stripe
    services.app.payment_notices.handle_payment_notice(notice)  # repeated
    assert wallet(services) == Decimal("20")
    more = PaymentNotice("evt_r2", "refund", top_up.payment_intent, None, None, refunded_total=Decimal(12))
    services.app.payment_notices.handle_payment_notice(more)  # the refunded total grew by 2
    assert wallet(services) == Decimal("18")
    dispute = PaymentNotice(
        "evt_d", "dispute", top_up.payment_intent, None, None, dispute="dp_1", dispute_amount=Decimal(13)
    )
    services.app.payment_notices.handle_payment_notice(dispute)
    services.app.payment_notices.handle_payment_notice(dispute)
    assert wallet(services) == Decimal("5")
    (usd,) = services.queries.trial_balance()
    assert usd.debits == usd.credits
    assert audit_history(services.app).problems == []


def test_card_top_ups_need_stripe_and_a_stripe_customer(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="5")
    with pytest.raises(ValidationFailed, match="stripe_customer_id"):
        services.app.wallets.top_up("acme", "card_1", "25.00", "stripe", None)
    services.app.customers.update_customer("acme", None, None, None, "cus_x")
    with pytest.raises(ValidationFailed, match="whole multiples"):
        services.app.wallets.top_up("acme", "card_2", "25.001", "stripe", None)
    services.app.payments.gateway = None
    with pytest.raises(ValidationFailed, match="STRIPE_API_KEY"):
        services.app.wallets.top_up("acme", "card_3", "25.00", "stripe", None)
