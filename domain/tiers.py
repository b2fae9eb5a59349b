"""Tier ladders as functions of the month-to-date provider cost.

Every tiered event is rated at the first tier's markup as it is recorded (a
pure function of the event, like any rating). What the ladder changes is a
function of the month's tiered cost alone, whatever order the usage came
in: this module computes it, and the tier settlement posts it."""

from __future__ import annotations

from decimal import Decimal

from domain.invariants import require
from domain.money import ZERO, exact, money_math
from domain.plans import Tiers

HUNDRED = Decimal(100)


def reached(tiers: Tiers, cost: Decimal) -> int:
    """The index of the tier that `cost` lies in (a tier includes its end)."""
    for index, tier in enumerate(tiers.tiers):
        if tier.up_to is None or cost <= tier.up_to:
            return index
    raise AssertionError("the last tier has no end")


@money_math
def graduated_difference(tiers: Tiers, cost: Decimal) -> Decimal:
    """Each part of `cost` beyond the first tier at its own tier's markup,
    as a difference from the first tier's: zero while the month is still in
    the first tier."""
    require(cost >= ZERO, cost)
    first = tiers.first_markup
    difference, floor = ZERO, ZERO
    for tier in tiers.tiers:
        ceiling = cost if tier.up_to is None else min(cost, tier.up_to)
        if ceiling > floor:
            difference += exact((ceiling - floor) * (tier.markup_percent - first) / HUNDRED)
            floor = ceiling
    return difference


@money_math
def volume_difference(tiers: Tiers, cost: Decimal) -> Decimal:
    """The whole of `cost` at the markup of the tier it reaches, as a
    difference from the first tier's."""
    require(cost >= ZERO, cost)
    markup = tiers.tiers[reached(tiers, cost)].markup_percent
    return exact(cost * (markup - tiers.first_markup) / HUNDRED)


def ladder_difference(tiers: Tiers | None, cost: Decimal, *, closed: bool) -> Decimal:
    """What the ladder adds to (or takes from) a month whose tiered usage
    cost `cost`, over its events' first-tier ratings. A graduated ladder
    settles as the cost accrues; a volume ladder is known only when the
    month closes, and until then the month stands at the first tier. No
    ladder (the plan changed to one without) changes nothing."""
    if tiers is None:
        return ZERO
    if tiers.mode == "graduated":
        return graduated_difference(tiers, cost)
    return volume_difference(tiers, cost) if closed else ZERO
