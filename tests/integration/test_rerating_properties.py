"""For random usage, random price versions (backdated or not, some of them
without the model, so that it is unpriced and priced again) and any order of
their arrival: every event ends rated at the version in force at its moment
(unpriced where that version has no rate for it), re-rating again changes
nothing, the audit finds every latest rating in force, the live views equal
a replay, and the ledger balances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.audit import audit_history
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from tests.conftest import open_services
from tests.support import Q12, event

BASE = datetime(2026, 11, 1, tzinfo=UTC)
FIRST = ("2.5", "10")
prices = st.tuples(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("30"), places=2).map(str),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60"), places=2).map(str),
)
prices_or_none = st.one_of(st.none(), prices, prices)  # None: a version that does not price the model
usage_spec = st.tuples(st.integers(0, 24), st.integers(0, 50_000), st.integers(0, 5_000))  # day, in, out


OTHER_MODEL = {"provider": "openai", "model": "gpt-4o-mini", "unit": "input_tokens", "price": "0.15", "per": 1_000_000}


def rates(price: tuple[str, str] | None) -> list[dict[str, Any]]:
    """gpt-4o at `price`, or (None) a version that prices another model only."""
    if price is None:
        return [OTHER_MODEL]
    input_price, output_price = price
    return [
        OTHER_MODEL,
        {"provider": "openai", "model": "gpt-4o", "unit": "input_tokens", "price": input_price, "per": 1_000_000},
        {"provider": "openai", "model": "gpt-4o", "unit": "output_tokens", "price": output_price, "per": 1_000_000},
    ]


class EveryVersionCarriedOut:
    """The version watcher's checkpoints when every version has had both
    passes: here each publication is re-rated at once."""

    def get(self, name: str) -> int:
        return 2**62

    def put(self, name: str, position: int) -> None:
        raise AssertionError("the audit only reads checkpoints")


LADDER = {
    "mode": "graduated",
    "tiers": [{"up_to": "0.05", "markup_percent": "20"}, {"up_to": None, "markup_percent": "5"}],
}


def expected_balance(
    usages: list[tuple[int, int, int]], versions: list[tuple[int, tuple[str, str] | None]], tiered: bool = False
) -> Decimal:
    """Computed here: each event at the version in force at its moment (the
    latest effective at or before it; among equal ones, the last published),
    at 20 %, or nothing where that version does not price the model; on the
    tiered plan, the month's cost past 0.05 at 5 % instead."""
    table: list[tuple[datetime, int, tuple[str, str] | None]] = [(BASE - timedelta(days=300), 0, FIRST)]
    table += [(BASE + timedelta(days=day), number, price) for number, (day, price) in enumerate(versions, start=1)]
    total, month_cost = Decimal(0), Decimal(0)
    for day, tokens_in, tokens_out in usages:
        moment = BASE + timedelta(days=day, hours=12)
        _, _, in_force = max((v for v in table if v[0] <= moment), key=lambda v: (v[0], v[1]))
        if in_force is None:
            continue  # unpriced: no charge, no cost toward the ladder
        price_in, price_out = in_force
        cost = (Decimal(tokens_in) * Decimal(price_in) / 1_000_000).quantize(Q12, ROUND_HALF_EVEN)
        cost += (Decimal(tokens_out) * Decimal(price_out) / 1_000_000).quantize(Q12, ROUND_HALF_EVEN)
        total += (cost * Decimal("1.2")).quantize(Q12, ROUND_HALF_EVEN)
        month_cost += cost
    if tiered and month_cost > Decimal("0.05"):
        total -= ((month_cost - Decimal("0.05")) * Decimal("0.15")).quantize(Q12, ROUND_HALF_EVEN)
    return Decimal(1000) - total


def publish(services: Services, day: int, price: tuple[str, str] | None) -> None:
    effective = BASE + timedelta(days=day)
    services.app.catalog.publish_price_version("default", effective, rates(price), "manual")
    services.follower.catch_up()
    services.app.rerating.rerate(price_book="default", since=effective, reason="test")
    services.follower.catch_up()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    usages=st.lists(usage_spec, min_size=1, max_size=25),
    versions=st.lists(st.tuples(st.integers(0, 24), prices_or_none), min_size=1, max_size=4),
    data=st.data(),
)
def test_any_arrival_order_ends_rated_at_the_version_in_force(
    usages: list[tuple[int, int, int]], versions: list[tuple[int, tuple[str, str] | None]], data: st.DataObject
) -> None:
    run(usages, versions, data, tiered=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    usages=st.lists(usage_spec, min_size=1, max_size=25),
    versions=st.lists(st.tuples(st.integers(0, 24), prices_or_none), min_size=1, max_size=4),
    data=st.data(),
)
def test_a_graduated_ladder_ends_at_the_month_cost_whatever_the_order(
    usages: list[tuple[int, int, int]], versions: list[tuple[int, tuple[str, str] | None]], data: st.DataObject
) -> None:
    """The tier settler runs at random moments between arrivals: the month
    still ends at the ladder's amount for its final cost."""
    run(usages, versions, data, tiered=True)


def run(
    usages: list[tuple[int, int, int]],
    versions: list[tuple[int, tuple[str, str] | None]],
    data: st.DataObject,
    tiered: bool,
) -> None:
    operations = [("usage", i) for i in range(len(usages))] + [("version", i) for i in range(len(versions))]
    versions_in_order = [op for op in data.draw(st.permutations(operations), label="arrival") if op[0] == "version"]
    arrival = data.draw(st.permutations(operations), label="interleaving")
    # versions are numbered in publication order: keep their relative order as drawn
    version_order = iter(index for _, index in versions_in_order)
    plan = [(kind, index if kind == "usage" else next(version_order)) for kind, index in arrival]
    published = [versions[index] for kind, index in plan if kind == "version"]
    with TemporaryDirectory() as folder:
        services = open_services(f"sqlite:///{Path(folder) / 'r.db'}")
        try:
            services.app.catalog.create_price_book("default", "USD")
            services.app.catalog.publish_price_version("default", BASE - timedelta(days=300), rates(FIRST), "manual")
            services.app.catalog.create_plan("pro", "default", Decimal(20), [], LADDER if tiered else None)
            services.app.customers.create_customer("acme", "Acme", "USD", "pro", "prepaid", 30, None)
            services.app.wallets.top_up("acme", "welcome", "1000", "grant", None)
            for kind, index in plan:
                if kind == "version":
                    publish(services, *versions[index])
                else:
                    day, tokens_in, tokens_out = usages[index]
                    moment = (BASE + timedelta(days=day, hours=12)).isoformat()
                    body = event(f"u{index}", timestamp=moment, input_tokens=tokens_in, output_tokens=tokens_out)
                    assert services.app.metering.record_usage([body])[0].status == "accepted"
                if tiered and data.draw(st.booleans(), label="settle now"):
                    services.follower.catch_up()
                    services.settler.step()
            services.follower.catch_up()
            services.settler.step()
            services.follower.catch_up()
            assert services.queries.balance("acme", "USD")[0] == expected_balance(usages, published, tiered)
            again = services.app.rerating.rerate(price_book="default", since=BASE - timedelta(days=300), reason="again")
            assert again.rerated == 0
            assert audit_history(services.app, checkpoints=EveryVersionCarriedOut()).problems == []
            decode = services.app.store.mapper.to_domain_event
            assert rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX) == []
            for currency in services.queries.trial_balance():
                assert currency.debits == currency.credits
        finally:
            services.close()
