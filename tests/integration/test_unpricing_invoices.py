"""Invoiced usage that a backdated version unprices is credited on the next
invoice, as a note on the invoice that billed it; priced again, it is
debited the same way, never billed a second time as late usage. Every
invoice's total is what the receivable holds. Amounts are worked out here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from application.audit import audit_history
from domain.invoice import Invoice
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from tests.clock import clock_of
from tests.support import event, expected_charge, rates_json, seed

NOV_1, DEC_1, JAN_1, FEB_1 = (datetime(year, month, 1, tzinfo=UTC) for year, month in
                              ((2026, 11), (2026, 12), (2027, 1), (2027, 2)))  # fmt: skip
CENT = Decimal("0.01")


def rounded(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_EVEN)


def bill(services: Services, period_end: datetime) -> Invoice:
    clock_of(services.app).set(period_end + timedelta(hours=1))
    (invoice,) = services.app.billing.billing_run(period_end, customers=["initech"]).invoices
    services.follower.catch_up()
    return invoice


def publish(services: Services, rates: list[dict[str, object]]) -> None:
    services.app.catalog.publish_price_version("default", NOV_1, rates, "manual")
    services.follower.catch_up()
    services.app.rerating.rerate(price_book="default", since=NOV_1, reason="backdated version")
    services.follower.catch_up()


def test_invoiced_usage_unpriced_then_priced_again_is_credited_then_debited_on_the_invoice_that_billed_it(
    services: Services,
) -> None:
    app = services.app
    services.follower.start()  # billing waits for the read model, as a server's would
    seed(app, customers=())
    app.customers.create_customer("initech", "Initech", "USD", "pro", "invoice", 30, None)
    gpt4o = [event(f"g{i}", "initech", timestamp=f"2026-11-1{i}T10:00:00Z") for i in range(3)]
    mini = [event(f"m{i}", "initech", model="gpt-4o-mini", timestamp=f"2026-11-2{i}T10:00:00Z") for i in range(2)]
    app.metering.record_usage(gpt4o + mini)
    services.follower.catch_up()
    gpt4o_charge = sum((expected_charge(body)[1] for body in gpt4o), Decimal(0))
    mini_charge = sum((expected_charge(body)[1] for body in mini), Decimal(0))
    november = bill(services, DEC_1)
    assert Decimal(november.figures["total"]) == rounded(gpt4o_charge + mini_charge)

    publish(services, [rate for rate in rates_json() if rate["model"] != "gpt-4o"])  # gpt-4o unpriced from Nov 1
    december_usage = event("d1", "initech", model="gpt-4o-mini", timestamp="2026-12-05T10:00:00Z")
    clock_of(app).set(datetime(2026, 12, 6, tzinfo=UTC))
    assert app.metering.record_usage([december_usage])[0].status == "accepted"
    services.follower.catch_up()
    december = bill(services, JAN_1)
    assert [(line["model"], line["late"]) for line in december.lines] == [
        ("gpt-4o-mini", False),
        ("gpt-4o-mini", False),
    ]
    (credit,) = december.notes
    assert (credit["invoice"], credit["kind"], Decimal(credit["total"])) == (
        november.invoice_id,
        "credit",
        -gpt4o_charge,
    )
    assert Decimal(december.figures["total"]) == rounded(expected_charge(december_usage)[1] - gpt4o_charge)

    publish(services, rates_json())  # gpt-4o priced again, as first
    january = bill(services, FEB_1)
    assert january.lines == []  # the usage November billed is not billed again as late usage
    (debit,) = january.notes
    assert (debit["invoice"], debit["kind"], Decimal(debit["total"])) == (november.invoice_id, "debit", gpt4o_charge)

    issued = sum((Decimal(invoice.figures["total"]) for invoice in (november, december, january)), Decimal(0))
    assert services.queries.balance("initech", "USD")[0] == -issued  # the receivable holds what was invoiced
    (usd,) = services.queries.trial_balance()
    assert usd.debits == usd.credits
    assert audit_history(app).problems == []
    decode = app.store.mapper.to_domain_event
    assert rebuild.audit_views(app.store.recorder, decode, services.database, LIVE_PREFIX) == []


def test_invoiced_usage_unpriced_and_priced_again_between_two_invoices_is_billed_once(services: Services) -> None:
    app = services.app
    services.follower.start()
    seed(app, customers=())
    app.customers.create_customer("initech", "Initech", "USD", "pro", "invoice", 30, None)
    gpt4o = [event(f"g{i}", "initech", timestamp=f"2026-11-1{i}T10:00:00Z") for i in range(3)]
    app.metering.record_usage(gpt4o)
    services.follower.catch_up()
    november = bill(services, DEC_1)
    assert Decimal(november.figures["total"]) == rounded(sum((expected_charge(b)[1] for b in gpt4o), Decimal(0)))

    publish(services, [rate for rate in rates_json() if rate["model"] != "gpt-4o"])
    publish(services, rates_json())
    december = bill(services, JAN_1)
    assert (december.lines, december.notes, Decimal(december.figures["total"])) == ([], [], Decimal(0))
    assert services.queries.balance("initech", "USD")[0] == -Decimal(november.figures["total"])
    assert audit_history(app).problems == []
