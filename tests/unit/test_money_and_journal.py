import subprocess
import sys
from decimal import Decimal

import pytest

from domain.invariants import InvariantViolated
from domain.journal import (
    JournalEntry,
    Posting,
    UnbalancedEntry,
    assert_balanced,
    check_balanced,
    entry,
    legs_of,
    stored_postings,
)
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


def test_an_unbalanced_set_of_legs_is_refused_naming_the_currency() -> None:
    legs = [("liabilities:wallet:a", Decimal("5"), "USD"), ("revenue:usage", Decimal("-4.99"), "USD")]
    with pytest.raises(UnbalancedEntry, match=r"USD debits exceed credits by 0\.01"):
        check_balanced(legs)
    with pytest.raises(UnbalancedEntry, match="EUR"):  # balanced in USD, not in EUR
        check_balanced([*legs[:1], ("revenue:usage", Decimal("-5"), "USD"), ("revenue:usage", Decimal("2"), "EUR")])


def test_an_entry_written_as_legs_balances_per_currency() -> None:
    journal = entry(
        "usage",
        [
            ("liabilities:wallet:a", "revenue:usage", Decimal("0.0078"), "USD"),
            ("expenses:provider:x", "liabilities:payable:provider:x", Decimal("0.006"), "USD"),
        ],
    )
    assert journal is not None
    legs = legs_of(journal.postings)
    assert sorted(amount for _, amount, _ in legs) == [Decimal("-0.0078"), Decimal("-0.006"), Decimal("0.006"),
                                                       Decimal("0.0078")]  # fmt: skip
    check_balanced(legs)
    with pytest.raises(UnbalancedEntry):
        check_balanced(legs[1:])  # one leg lost


def test_money_invariants_hold_under_python_optimizations() -> None:
    """`python -O` strips assert statements; a posting of a negative amount is refused all the same."""
    script = (
        "from decimal import Decimal\n"
        "from domain.invariants import InvariantViolated\n"
        "from domain.journal import Posting\n"
        "try:\n"
        "    Posting('liabilities:wallet:a', 'revenue:usage', Decimal('-1'), 'USD')\n"
        "except InvariantViolated as error:\n"
        "    print('refused:', error)\n"
    )
    done = subprocess.run([sys.executable, "-O", "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("refused: a posting moves a positive amount"), done.stdout + done.stderr
    with pytest.raises(InvariantViolated):
        Posting("liabilities:wallet:a", "revenue:usage", Decimal("-1"), "USD")


def test_an_entry_of_checked_postings_is_the_entry_its_own_checks_would_build() -> None:
    movements = [
        ("liabilities:wallet:a", "revenue:usage", Decimal("0.0078"), "USD"),
        ("expenses:provider:x", "liabilities:payable:provider:x", Decimal("0.006"), "EUR"),
    ]
    journal = entry("usage", movements)
    assert journal == JournalEntry("usage", tuple(Posting(*movement) for movement in movements))
    assert journal is not None and hash(journal) == hash(JournalEntry.from_dict(journal.as_dict()))
    with pytest.raises(InvariantViolated, match="positive"):
        entry("usage", [("liabilities:wallet:a", "revenue:usage", Decimal("-1"), "USD")])
    with pytest.raises(ValueError, match="chart of accounts"):
        entry("usage", [("wallet:a", "revenue:usage", Decimal("1"), "USD")])


def test_stored_postings_are_read_as_written_and_refused_unless_balanced() -> None:
    journal = entry("usage", [("liabilities:wallet:a", "revenue:usage", Decimal("0.0078"), "USD")])
    assert journal is not None
    assert stored_postings(journal.as_dict()) == [("liabilities:wallet:a", "revenue:usage", Decimal("0.0078"), "USD")]
    with pytest.raises(UnbalancedEntry, match="USD"):
        stored_postings(
            {"kind": "usage", "postings": [{"debit": "a", "credit": "b", "amount": "NaN", "currency": "USD"}]}
        )
    with pytest.raises(InvariantViolated):
        stored_postings({"kind": "usage", "postings": []})
