"""Spending order by hand: granted before paid, first to expire first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.wallet import Grant, spending_order, unspent_at_expiry

D = Decimal
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def grant(name: str, amount: str, expires_day: int | None, expired: str | None = None) -> Grant:
    expires = datetime(2026, 11, expires_day, tzinfo=UTC) if expires_day else None
    return Grant(name, D(amount), expires, T0, None if expired is None else D(expired))


def test_first_to_expire_is_spent_first() -> None:
    grants = [grant("late", "10", 20), grant("never", "10", None), grant("soon", "10", 10)]
    assert [g.top_up_id for g in spending_order(grants)] == ["soon", "late", "never"]


def test_what_is_left_at_expiry() -> None:
    grants = [grant("soon", "10", 10), grant("late", "10", 20)]
    assert unspent_at_expiry(grants, "soon", D("4")) == D("6")  # 4 spent, all from "soon"
    assert unspent_at_expiry(grants, "soon", D("25")) == 0  # spent more than it held: nothing left
    # "soon" expired with 6 left (it had spent 4); by "late"'s expiry 12 were spent: 4 + 8 from "late".
    expired = [grant("soon", "10", 10, expired="6"), grant("late", "10", 20)]
    assert unspent_at_expiry(expired, "late", D("12")) == D("2")
    assert unspent_at_expiry(expired, "late", D("3")) == D("10")  # never reached "late"
