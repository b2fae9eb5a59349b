"""The auditor's check of the history itself: every stored event is read in
order; every entry must balance, every currency's debits must equal its
credits, and every rating must be reproduced exactly from the price and plan
versions it names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.entries import charged_account, entries_of
from domain.events import UsageRecorded, UsageRerated
from domain.journal import assert_balanced
from domain.money import ZERO, money_math
from domain.rating import Chargeable, Rating, rate

if TYPE_CHECKING:
    from application.tally import Tally

PAGE = 2000


@dataclass
class HistoryReport:
    events: int = 0
    entries: int = 0
    ratings_checked: int = 0
    problems: list[str] = field(default_factory=list)
    debits: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    credits: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))


@money_math
def audit_history(app: Tally, progress: Callable[[int], None] | None = None) -> HistoryReport:
    app.reference.refresh()
    report = HistoryReport()
    position = 0
    while True:
        page = app.recorder.select_notifications(position, PAGE, inclusive_of_start=False)
        for notification in page:
            event = app.mapper.to_domain_event(notification)
            report.events += 1
            _check_entries(report, notification.id, event)
            if isinstance(event, UsageRecorded) and event.rating:
                _check_rating(app, report, notification.id, event, event.usage)
            elif isinstance(event, UsageRerated):
                quantities = {line["unit"]: line["quantity"] for line in event.rating["lines"]}
                _check_rating(app, report, notification.id, event, quantities)
                _check_deltas(report, notification.id, event)
        if progress is not None:
            progress(len(page))
        if len(page) < PAGE:
            break
        position = page[-1].id
    for currency in sorted(set(report.debits) | set(report.credits)):
        if report.debits[currency] != report.credits[currency]:
            report.problems.append(f"trial balance in {currency} is not zero")
    return report


def _check_entries(report: HistoryReport, position: int, event: object) -> None:
    """Every carried entry must parse into valid postings: positive, exact to
    12 places, between two known accounts, in one currency. With transfer-
    style postings, debits equal credits by construction; what can break is a
    posting itself, and this is where a corrupted history shows."""
    try:
        journals = entries_of(event)
        for journal in journals:
            assert_balanced(journal.postings)
    except (AssertionError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        report.problems.append(f"event {position}: its journal entry is not valid: {error!r}")
        return
    for journal in journals:
        report.entries += 1
        for posting in journal.postings:
            report.debits[posting.currency] += posting.amount
            report.credits[posting.currency] += posting.amount


def _check_rating(app: Tally, report: HistoryReport, position: int, event: Any, usage: dict[str, int]) -> None:
    try:
        _recompute(app, report, position, event, usage)
    except (AssertionError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        report.problems.append(f"event {position}: its rating cannot be recomputed: {error!r}")


def _recompute(app: Tally, report: HistoryReport, position: int, event: Any, usage: dict[str, int]) -> None:
    stored = Rating.from_dict(event.rating)
    book = app.reference.price_books.get(stored.price_book)
    plan = app.reference.plans.get(stored.plan)
    customer = app.reference.customers.get(event.customer)
    if book is None or plan is None or customer is None:
        report.problems.append(f"event {position}: rating names an unknown price book, plan or customer")
        return
    if not (0 < stored.price_version <= len(book.versions) and 0 < stored.plan_version <= len(plan.versions)):
        report.problems.append(f"event {position}: rating names a price or plan version that does not exist")
        return
    prices = book.versions[stored.price_version - 1]
    terms = plan.versions[stored.plan_version - 1]
    charged = charged_account(stored.entry.as_dict() if stored.entry else None)
    billing = "prepaid" if charged and charged.startswith("liabilities:wallet:") else "postpaid"
    item = Chargeable(event.customer, billing, stored.currency, event.provider, event.model, usage)
    again = rate(item, stored.price_book, prices, stored.plan, terms)
    report.ratings_checked += 1
    if again != stored:
        report.problems.append(
            f"event {position}: rating is not reproduced: stored {stored.charge}, again {again.charge}"
        )


def _check_deltas(report: HistoryReport, position: int, event: Any) -> None:
    """A correction's entry moves exactly the differences it states."""
    if event.replaces is None or event.adjustment is None:
        return
    moved = sorted(Decimal(posting["amount"]) for posting in event.adjustment["postings"])
    stated = sorted(abs(Decimal(delta)) for delta in (event.delta_cost, event.delta_charge) if Decimal(delta))
    if moved != stated:
        report.problems.append(f"event {position}: the adjustment moves {moved}, the re-rating states {stated}")
