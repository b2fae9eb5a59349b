"""Alert rules at their boundaries, by hand."""

from __future__ import annotations

from decimal import Decimal

from domain.alerts import is_spike, spend_alerts
from domain.holds import Standing, decide

D = Decimal
LIMITS = {"soft_limit": "100", "hard_limit": "150", "alert_thresholds_percent": [50, 80, 100]}


def test_a_threshold_is_reached_exactly_at_it() -> None:
    assert [t for t, _ in spend_alerts(LIMITS, D("49.999999999999"))] == []
    assert [t for t, _ in spend_alerts(LIMITS, D("50"))] == ["50"]
    assert [t for t, _ in spend_alerts(LIMITS, D("100"))] == ["50", "80", "100"]
    hard_only = {"hard_limit": "10", "alert_thresholds_percent": [100]}
    assert [t for t, _ in spend_alerts(hard_only, D("10"))] == ["100"]  # of the hard limit without a soft one
    assert spend_alerts({"alert_thresholds_percent": [50]}, D("1000")) == []


def test_a_spike_needs_seven_days_and_more_than_twice_the_average() -> None:
    week = [D(10)] * 7
    assert not is_spike(D(20), week)  # exactly twice: not over
    assert is_spike(D("20.000000000001"), week)
    assert not is_spike(D(100), week[:6])  # six days of history: too early


def test_decisions_at_the_boundaries() -> None:
    standing = Standing("prepaid", D("1"), D("0.4"), D(0), None, False)
    assert decide(D("0.6"), standing).approved  # to exactly zero
    assert decide(D("0.600000000001"), standing).code == "insufficient_funds"
    limited = Standing("postpaid", D(0), D(0), D("9"), D("10"), False)
    assert decide(D("1"), limited).approved  # exactly at the hard limit
    assert decide(D("1.000000000001"), limited).code == "spending_limit_exceeded"
    assert decide(D("0.01"), Standing("postpaid", D(0), D(0), D(0), None, True)).code == "account_past_due"
