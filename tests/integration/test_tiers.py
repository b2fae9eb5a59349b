"""Tiered plans end to end on both stores: usage rated at the first tier, the
ladder settled per customer month (graduated as it accrues, volume at the
close, late usage after it), backdated corrections and new ladders settled
again; the amounts are worked out here by hand, not by the domain code."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from application.audit import audit_history
from domain.tier_settlement import TierSettlement
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from tests.clock import clock_of
from tests.support import NOW, event, rates_json, seed

D = Decimal
WEEK_AGO = datetime(2026, 11, 19, tzinfo=UTC)
AFTER_CLOSE = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # past the month's end and its hour of grace
# Each gpt-4o event: 1200 input at 2.50/M + 350 output at 10/M = 0.0065 of provider cost.
EVENT_COST = D("0.0065")


def ladder(mode: str) -> dict[str, Any]:
    return {
        "mode": mode,
        "tiers": [
            {"up_to": "0.05", "markup_percent": "30"},
            {"up_to": "0.10", "markup_percent": "20"},
            {"up_to": None, "markup_percent": "10"},
        ],
    }


def setup(services: Services, mode: str, events: int = 20) -> None:
    seed(services.app, customers=("globex",))
    services.app.catalog.create_plan("tiered", "default", D("0"), [], ladder(mode))
    services.app.customers.create_customer("acme", "Acme", "USD", "tiered", "prepaid", 30, None)
    services.app.wallets.top_up("acme", "welcome", "100", "grant", None)
    services.app.metering.record_usage([event(f"t{i}") for i in range(events)])


def settle(services: Services) -> None:
    """What the server's policy loop does: project, settle, project what it posted."""
    services.follower.catch_up()
    services.settler.step()
    services.follower.catch_up()


def balance(services: Services) -> Decimal:
    return services.queries.balance("acme", "USD")[0]


def assert_clean(services: Services) -> None:
    (usd,) = services.queries.trial_balance()
    assert usd.debits == usd.credits
    report = audit_history(services.app)
    assert report.problems == [] and report.unsettled == []
    assert report.settlements_checked > 0
    decode = services.app.store.mapper.to_domain_event
    assert rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX) == []


def test_graduated_tiers_settle_as_the_month_accrues(services: Services) -> None:
    setup(services, "graduated")
    services.follower.catch_up()
    # Recorded: each event at the first tier, 0.0065 × 1.3 = 0.00845; 20 events = 0.169.
    assert balance(services) == D("100") - D("0.169")
    settle(services)
    # The month's 0.13 of cost, graduated: 0.05 × 1.3 + 0.05 × 1.2 + 0.03 × 1.1 = 0.065 + 0.06 + 0.033.
    assert balance(services) == D("100") - D("0.158")
    settle(services)  # nothing changed: nothing more
    assert balance(services) == D("100") - D("0.158")
    summary = services.queries.period_summary("acme", *_november(), NOW)
    assert summary.spend == D("0.158") and summary.tier_adjustment == D("-0.011")
    entries = [e for e in services.queries.entries(account="liabilities:wallet:acme", limit=100) if e.kind == "tiers"]
    assert len(entries) == 1 and entries[0].postings[0].amount == D("0.011")
    assert_clean(services)


def test_what_if_a_volume_ladder_against_the_graduated_one_in_force(services: Services) -> None:
    setup(services, "graduated")
    settle(services)
    result = services.app.simulations.simulate("acme", *_november(), None, {"tiers": ladder("volume")})
    # Actually: 0.169 at the first tier, −0.011 settled. Under volume the closed month's 0.13
    # reaches the third tier: 0.143 in all, 0.026 under the first-tier charges.
    assert (result.actual.charge, result.actual.tier_adjustment) == (D("0.158"), D("-0.011"))
    assert (result.simulated.charge, result.simulated.tier_adjustment) == (D("0.143"), D("-0.026"))
    assert result.difference == D("-0.015")
    partial = services.app.simulations.simulate("acme", datetime(2026, 11, 2, tzinfo=UTC), _november()[1], None, None)
    assert partial.actual.tier_adjustment == 0 == partial.simulated.tier_adjustment  # the month began before


def test_a_backdated_price_cut_moves_the_month_back_down_the_ladder(services: Services) -> None:
    setup(services, "graduated")
    settle(services)
    halved = [{**r, "price": str(D(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved, "manual")
    services.follower.catch_up()
    services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="price cut")
    settle(services)
    # 20 × 0.00325 = 0.065 of cost: 0.05 × 1.3 + 0.015 × 1.2 = 0.065 + 0.018.
    assert balance(services) == D("100") - D("0.083")
    assert_clean(services)


def test_a_new_ladder_resettles_the_month_without_rerating_any_event(services: Services) -> None:
    setup(services, "graduated")
    settle(services)
    flatter = ladder("graduated")
    flatter["tiers"][2]["markup_percent"] = "0"  # the first tier is unchanged: no event's rating moves
    services.app.catalog.publish_plan_version("tiered", WEEK_AGO, D("0"), [], flatter)
    services.follower.catch_up()
    services.app.reference.refresh()
    services.app.tiers.resettle_plan("tiered", WEEK_AGO)
    services.follower.catch_up()
    # 0.065 + 0.06 + 0.03 × 1.0
    assert balance(services) == D("100") - D("0.155")
    assert_clean(services)


def test_volume_tiers_settle_when_the_month_closes_and_late_usage_after(services: Services) -> None:
    setup(services, "volume")
    settle(services)
    assert balance(services) == D("100") - D("0.169")  # the month is open: first tier throughout
    clock_of(services.app).set(AFTER_CLOSE)
    settle(services)
    # Closed at 0.13 of cost, which reaches the third tier: all of it at 10 % = 0.143.
    assert balance(services) == D("100") - D("0.143")
    services.app.metering.record_usage([event("late", timestamp="2026-11-30T23:00:00Z")])
    settle(services)
    # Late usage for the closed month: 0.1365 at 10 % = 0.15015.
    assert balance(services) == D("100") - D("0.15015")
    stored = list(services.app.store.events.get(TierSettlement.create_id("acme", "2026-11")))
    assert [(e.closes, e.late) for e in stored[1:]] == [(False, False), (True, False), (False, True)]
    assert_clean(services)


def _november() -> tuple[datetime, datetime]:
    return datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


def test_the_worked_example_on_invoices(services: Services) -> None:
    """docs/rating.md's worked example, for a customer billed by invoice:
    November invoiced after the tier crossing, then the backdated price cut
    reaches December's invoice as a credit note and a late tier settlement."""
    services.follower.start()  # billing waits for the read model, as a server's would
    seed(services.app, customers=("globex",))
    services.app.catalog.create_plan("tiered", "default", D("0"), [], ladder("graduated"))
    services.app.customers.create_customer("acme", "Acme", "USD", "tiered", "invoice", 30, None)
    services.app.metering.record_usage([event(f"t{i}") for i in range(20)])
    settle(services)
    clock_of(services.app).set(datetime(2026, 12, 1, 2, tzinfo=UTC))
    (november,) = services.app.billing.billing_run(datetime(2026, 12, 1, tzinfo=UTC), customers=["acme"]).invoices
    assert [(line["unit"], line["quantity"], line["amount"]) for line in november.lines] == [
        ("input_tokens", 24_000, "0.078000000000"),
        ("output_tokens", 7_000, "0.091000000000"),
    ]
    assert november.tiers == [{"period": "2026-11", "amount": "-0.011000000000", "late": False}]
    assert (november.figures["total_exact"], november.figures["rounding"], november.amount_due) == (
        "0.158000000000", "0.002000000000", D("0.16"),
    )  # fmt: skip
    halved = [{**r, "price": str(D(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved, "manual")
    services.follower.catch_up()
    services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="price cut")
    settle(services)
    clock_of(services.app).set(datetime(2027, 1, 1, 2, tzinfo=UTC))
    (december,) = services.app.billing.billing_run(datetime(2027, 1, 1, tzinfo=UTC), customers=["acme"]).invoices
    (note,) = december.notes
    assert (note["invoice"], note["kind"], D(note["total"])) == (november.invoice_id, "credit", D("-0.0845"))
    assert [(t["period"], D(t["amount"]), t["late"]) for t in december.tiers] == [("2026-11", D("0.0095"), True)]
    assert D(december.figures["total_exact"]) == D("-0.075") and december.total == D("-0.08")
    assert december.amount_due == 0 and D(december.figures["credit_carried"]) == D("0.08")
    services.follower.catch_up()
    # Owed: 0.16 invoiced, less the 0.08 credit. The books say the same.
    assert balance(services) == D("-0.08")
    assert_clean(services)
