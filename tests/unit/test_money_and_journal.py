from decimal import Decimal

import pytest

from domain.journal import JournalEntry, Posting, assert_balanced, entry
from domain.money import exact, format_amount, parse_amount


def test_exact_rounds_half_even_to_twelve_places() -> None:
    assert exact(Decimal("0.0000000000005")) == Decimal("0.000000000000")
    assert exact(Decimal("0.0000000000015")) == Decimal("0.000000000002")
    assert exact(Decimal("1.0000000000025")) == Decimal("1.000000000002")


@pytest.mark.parametrize(
    ("amount", "text"),
    [("12.500", "12.5"), ("0.000001375", "0.000001375"), ("100", "100"), ("0E-12", "0"), ("1E+2", "100")],
)
def test_amounts_are_plain_decimal_strings(amount: str, text: str) -> None:
    assert format_amount(Decimal(amount)) == text


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "1e", "", "abc"])
def test_parse_amount_refuses_what_is_not_a_finite_number(text: str) -> None:
    with pytest.raises(ValueError, match="number"):
        parse_amount(text)


def test_a_posting_moves_a_positive_exact_amount_between_two_accounts() -> None:
    with pytest.raises(AssertionError):
        Posting("revenue:usage", "revenue:usage", Decimal(1), "USD")
    with pytest.raises(AssertionError):
        Posting("liabilities:wallet:a", "revenue:usage", Decimal(0), "USD")
    with pytest.raises(AssertionError):
        Posting("liabilities:wallet:a", "revenue:usage", Decimal("0.0000000000001"), "USD")
    with pytest.raises(ValueError, match="chart of accounts"):
        Posting("wallet:a", "revenue:usage", Decimal(1), "USD")


def test_entry_leaves_out_movements_of_nothing() -> None:
    journal = entry(
        "usage",
        [
            ("liabilities:wallet:a", "revenue:usage", Decimal("0.0078"), "USD"),
            ("expenses:provider:x", "liabilities:payable:provider:x", Decimal(0), "USD"),
        ],
    )
    assert journal is not None
    assert len(journal.postings) == 1
    assert entry("usage", [("liabilities:wallet:a", "revenue:usage", Decimal(0), "USD")]) is None


def test_entries_round_trip_and_balance() -> None:
    journal = JournalEntry("grant", (Posting("expenses:grants", "liabilities:wallet:a", Decimal("25"), "USD"),))
    assert JournalEntry.from_dict(journal.as_dict()) == journal
    assert_balanced(journal.postings)
