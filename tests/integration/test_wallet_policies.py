"""Grants expire on their date, what is left of them as a ledger entry, with
granted funds spent before paid ones; auto top-up starts one card top-up when
the wallet falls below its threshold, never two at once. Time moves by the
application's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from application.audit import audit_history
from interfaces.bootstrap import Services
from tests.clock import clock_of
from tests.stripe_server import DECLINED_CARD, customer_with_card, set_card
from tests.support import NOW, event, expected_charge, seed

D = Decimal


def catch_up(services: Services) -> None:
    services.follower.catch_up()


def at(services: Services, moment: datetime) -> None:
    clock_of(services.app).set(moment)


def test_a_grant_expires_with_what_is_left_of_it(stripe_services: Services, stripe_base: str) -> None:
    services, app = stripe_services, stripe_services.app
    seed(app, customers=("acme",), grant="1")  # a grant without expiry
    app.customers.update_customer("acme", None, None, None, customer_with_card(stripe_base))
    # Postings carry the wall clock's time (the event's own timestamp), which the
    # expiry compares with: the grant expires three days after the real now.
    expires = max(NOW, datetime.now(UTC)) + timedelta(days=3)
    app.wallets.top_up("acme", "promo", "0.05", "grant", expires)
    app.wallets.top_up("acme", "card", "10.00", "stripe", None)
    usage = [event(f"u{i}") for i in range(4)]  # spent from "promo" first: it expires first
    app.metering.record_usage(usage)
    catch_up(services)
    spent = sum((expected_charge(body)[1] for body in usage), D(0))
    assert app.wallet_policies.run_wallet_policies() == 0  # nothing has expired yet
    at(services, expires + timedelta(seconds=1))
    assert app.wallet_policies.run_wallet_policies() == 1
    catch_up(services)
    assert app.wallet_policies.run_wallet_policies() == 0  # once
    left = D("0.05") - spent
    expiry = [e for e in services.queries.entries(account="expenses:grants", limit=10) if e.kind == "grant-expiry"]
    assert [e.postings[0].amount for e in expiry] == [left]
    assert services.queries.balance("acme", "USD")[0] == D("1") + D("0.05") + D("10") - spent - left
    assert audit_history(app).problems == []


def test_auto_top_up_starts_one_card_top_up_below_its_threshold(stripe_services: Services, stripe_base: str) -> None:
    services, app = stripe_services, stripe_services.app
    seed(app, customers=("acme",), grant="0.05")
    stripe_customer = customer_with_card(stripe_base, DECLINED_CARD)
    app.customers.update_customer("acme", None, None, None, stripe_customer)
    app.wallet_policies.set_auto_top_up("acme", "0.03", "5.00")
    catch_up(services)
    assert app.wallet_policies.run_wallet_policies() == 0  # 0.05 is above 0.03
    app.metering.record_usage([event(f"u{i}") for i in range(3)])  # 3 × 0.0078 = 0.0234: below the threshold
    catch_up(services)
    assert app.wallet_policies.run_wallet_policies() == 1  # declined
    catch_up(services)
    assert app.wallet_policies.run_wallet_policies() == 0  # a declined card is not asked again at once
    at(services, NOW + timedelta(hours=2))
    set_card(stripe_base, stripe_customer, "4242424242424242")
    assert app.wallet_policies.run_wallet_policies() == 1
    catch_up(services)
    assert app.wallet_policies.run_wallet_policies() == 0  # above the threshold again
    assert [
        t.status for t in (app.wallets.find_top_up("acme", "auto.1"), app.wallets.find_top_up("acme", "auto.2"))
    ] == [
        "failed",
        "succeeded",
    ]
    balance = services.queries.balance("acme", "USD")[0]
    assert balance == D("0.05") - 3 * expected_charge(event("x"))[1] + D("5")
    assert audit_history(app).problems == []


def test_two_policy_passes_at_once_start_one_auto_top_up(stripe_services: Services, stripe_base: str) -> None:
    """Two servers' policy loops see the same low wallet at the same moment."""
    import threading

    services, app = stripe_services, stripe_services.app
    seed(app, customers=("acme",), grant="0.01")
    app.customers.update_customer("acme", None, None, None, customer_with_card(stripe_base))
    app.wallet_policies.set_auto_top_up("acme", "1.00", "5.00")
    catch_up(services)
    barrier = threading.Barrier(2)

    def start() -> None:
        barrier.wait()
        app.wallet_policies.start_auto_top_ups()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    catch_up(services)
    assert [row["top_up_id"] for row in app.wallet_reads.auto_top_ups("acme")] == ["auto.1"]
    assert services.queries.balance("acme", "USD")[0] == D("5.01")


def test_auto_top_up_needs_a_prepaid_customer_and_both_figures(stripe_services: Services) -> None:
    import pytest

    from application.errors import ValidationFailed

    app = stripe_services.app
    seed(app, customers=("acme",))
    with pytest.raises(ValidationFailed, match="both"):
        app.wallet_policies.set_auto_top_up("acme", "5", None)
    with pytest.raises(ValidationFailed, match="stripe_customer_id"):
        app.wallet_policies.set_auto_top_up("acme", "5", "20")
    assert app.wallet_policies.set_auto_top_up("acme", None, None).auto_top_up is None
