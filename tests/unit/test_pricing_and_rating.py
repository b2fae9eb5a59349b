from datetime import UTC, datetime
from decimal import Decimal

from domain.plans import ModelOverride, PlanVersion
from domain.pricing import PriceVersion, Rate, version_in_force
from domain.rating import Chargeable, rate, unpriced_units

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def prices(number: int, effective_from: datetime, input_price: str = "2.50") -> PriceVersion:
    return PriceVersion(
        number,
        effective_from,
        (
            Rate("openai", "gpt-4o", "input_tokens", Decimal(input_price), 1_000_000),
            Rate("openai", "gpt-4o", "output_tokens", Decimal("10"), 1_000_000),
        ),
    )


def test_the_version_in_force_is_the_latest_effective_at_or_before_the_moment() -> None:
    versions = [prices(1, JAN), prices(2, FEB)]
    assert version_in_force(versions, datetime(2025, 12, 31, tzinfo=UTC)) is None
    assert version_in_force(versions, JAN).number == 1  # type: ignore[union-attr]
    assert version_in_force(versions, datetime(2026, 1, 31, tzinfo=UTC)).number == 1  # type: ignore[union-attr]
    assert version_in_force(versions, FEB).number == 2  # type: ignore[union-attr]


def test_among_equal_effective_from_the_last_published_wins() -> None:
    versions = [prices(1, JAN), prices(2, JAN, "3")]
    assert version_in_force(versions, FEB).number == 2  # type: ignore[union-attr]
    assert version_in_force(list(reversed(versions)), FEB).number == 2  # type: ignore[union-attr]


def item(model: str = "gpt-4o", **usage: int) -> Chargeable:
    return Chargeable("acme", "prepaid", "USD", "openai", model, usage or {"input_tokens": 1200, "output_tokens": 350})


def test_rating_is_usage_times_price_times_one_plus_markup() -> None:
    rated = rate(item(), "default", prices(1, JAN), "pro", PlanVersion(1, JAN, Decimal("20")))
    assert rated.cost == Decimal("0.0065")
    assert rated.charge == Decimal("0.0078")
    assert rated.entry is not None
    charged, cost = rated.entry.postings
    assert (charged.debit, charged.credit, charged.amount) == (
        "liabilities:wallet:acme",
        "revenue:usage",
        Decimal("0.0078"),
    )
    assert (cost.debit, cost.credit, cost.amount) == (
        "expenses:provider:openai",
        "liabilities:payable:provider:openai",
        Decimal("0.0065"),
    )


def test_a_model_override_replaces_the_plan_markup() -> None:
    terms = PlanVersion(1, JAN, Decimal("20"), (ModelOverride("openai", "gpt-4o", Decimal("50")),))
    assert rate(item(), "default", prices(1, JAN), "pro", terms).charge == Decimal("0.00975")


def test_postpaid_usage_is_charged_to_the_receivable() -> None:
    chargeable = Chargeable("acme", "postpaid", "USD", "openai", "gpt-4o", {"input_tokens": 1})
    rated = rate(chargeable, "default", prices(1, JAN), "pro", PlanVersion(1, JAN, Decimal(0)))
    assert rated.entry is not None
    assert rated.entry.postings[0].debit == "assets:receivable:acme"


def test_amounts_keep_twelve_places_rounded_half_even() -> None:
    rated = rate(
        item(input_tokens=1, output_tokens=0),
        "default",
        prices(1, JAN, "0.0000005"),
        "pro",
        PlanVersion(1, JAN, Decimal(0)),
    )
    # 1 × 0.0000005 / 1,000,000 = 5E-13, which rounds half-even to zero: nothing to post.
    assert rated.cost == Decimal(0)
    assert rated.entry is None


def test_unpriced_units_are_named() -> None:
    assert unpriced_units(item(images=1), prices(1, JAN)) == ["images"]
    assert unpriced_units(item(model="gpt-9"), prices(1, JAN)) == ["input_tokens", "output_tokens"]
    assert unpriced_units(item(images=0), prices(1, JAN)) == []
    assert unpriced_units(item(), None) == ["input_tokens", "output_tokens"]
