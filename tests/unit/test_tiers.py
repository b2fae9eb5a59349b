"""Tier ladders: the arithmetic by hand, and the settlement's invariant: the
sum of a month's settlements is the ladder's difference at the month's cost,
whatever order and however often it ran."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.plans import Tier, Tiers
from domain.tier_settlement import TierSettlement, period_bounds, period_of
from domain.tiers import graduated_difference, ladder_difference, reached, volume_difference

D = Decimal
LADDER = (Tier(D("1000"), D("30")), Tier(D("5000"), D("20")), Tier(None, D("10")))


def ladder(mode: str) -> Tiers:
    return Tiers(mode, LADDER)


def test_graduated_by_hand() -> None:
    # 6000 of cost: 1000 at 30 %, 4000 at 20 %, 1000 at 10 % = 1300 + 4800 + 1100 = 7200,
    # against 6000 at the first tier's 30 % = 7800: the ladder takes 600 off.
    assert graduated_difference(ladder("graduated"), D("6000")) == D("-600")
    assert graduated_difference(ladder("graduated"), D("1000")) == 0  # a tier includes its end
    assert graduated_difference(ladder("graduated"), D("1000.01")) == D("-0.001")


def test_volume_by_hand() -> None:
    # 6000 reaches the third tier: all of it at 10 % = 6600, against 7800 at 30 %.
    assert volume_difference(ladder("volume"), D("6000")) == D("-1200")
    assert volume_difference(ladder("volume"), D("5000")) == D("-500")  # exactly at the end: still tier 2
    assert reached(ladder("volume"), D("5000")) == 1
    assert reached(ladder("volume"), D("5000.000000000001")) == 2


def test_volume_waits_for_the_close() -> None:
    assert ladder_difference(ladder("volume"), D("6000"), closed=False) == 0
    assert ladder_difference(ladder("volume"), D("6000"), closed=True) == D("-1200")
    assert ladder_difference(None, D("6000"), closed=True) == 0


def test_a_ladder_must_rise_and_end_open() -> None:
    with pytest.raises(AssertionError):
        Tiers("graduated", (Tier(D("10"), D("5")), Tier(D("10"), D("3")), Tier(None, D("1"))))
    with pytest.raises(AssertionError):
        Tiers("graduated", (Tier(D("10"), D("5")),))
    with pytest.raises(AssertionError):
        Tiers("stepped", (Tier(None, D("5")),))


def test_periods() -> None:
    start, end = period_bounds("2026-12")
    assert (start.isoformat(), end.isoformat()) == ("2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
    assert period_of(end) == "2027-01"


def settle(settlement: TierSettlement, mode: str, cost: Decimal, close: bool = False) -> bool:
    return settlement.settle(
        plan="p", plan_version=1, tiers=ladder(mode), tiered_cost=cost, account="liabilities:wallet:a", close=close
    )


def posted(settlement: TierSettlement) -> Decimal:
    total = D(0)
    for event in settlement.collect_events():
        for posting in (event.entry or {}).get("postings", []) if hasattr(event, "entry") else []:
            sign = 1 if posting["debit"] == "liabilities:wallet:a" else -1
            total += sign * D(posting["amount"])
    return total


costs = st.lists(st.decimals(min_value=0, max_value=3000, places=6), min_size=1, max_size=12)


@given(costs, st.sampled_from(["graduated", "volume"]))
def test_settlements_add_up_to_the_ladder_at_the_final_cost(parts: list[Decimal], mode: str) -> None:
    settlement = TierSettlement("a", "2026-11", "USD")
    running = D(0)
    for part in parts:
        running += part
        settle(settlement, mode, running)
        settle(settlement, mode, running)  # again: nothing more
    settle(settlement, mode, running, close=True)
    late = running + D("0.5")
    settle(settlement, mode, late)  # after the close: settled as late
    # The wallet was charged, in all, exactly the ladder's whole difference at the last cost.
    assert posted(settlement) == ladder_difference(ladder(mode), late, closed=True)
    assert settlement.closed and settlement.tiered_cost == late


def test_settling_the_same_cost_again_appends_nothing() -> None:
    settlement = TierSettlement("a", "2026-11", "USD")
    assert settle(settlement, "graduated", D("2000"))
    assert not settle(settlement, "graduated", D("2000"))
    assert settle(settlement, "graduated", D("2000"), close=True)  # closing is a settlement of its own
    assert not settle(settlement, "graduated", D("2000"), close=True)
