"""The auditor's check of the history itself: every stored event is read in
order; every entry must balance, every currency's debits must equal its
credits, every rating must be reproduced exactly from the price and plan
versions it names, every unpricing must name versions that leave the usage
unpriced, and every usage's latest rating must be the one the versions in
force at its moment give, under the plan its customer had then
(application/audit_in_force.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from application.audit_in_force import Standing, Versions, awaiting, standing
from application.ports import Checkpoints
from application.version_watcher import SETTLED_CHECKPOINT
from domain.entries import charged_account, entries_of
from domain.events import (
    CustomerUpdated,
    InvoiceIssued,
    PlanVersionPublished,
    PriceVersionPublished,
    TierSettled,
    UsageRecorded,
    UsageRerated,
    UsageUnpriced,
)
from domain.journal import JournalEntry
from domain.money import ZERO, money_math, round_to_minor_unit
from domain.plans import Tiers
from domain.rating import Chargeable, Rating, rate
from domain.tier_settlement import period_of
from domain.tiers import ladder_difference

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
    settlements_checked: int = 0
    invoices_checked: int = 0
    # (customer, month) → tiered cost by the history's ratings, and as last settled
    tiered_cost: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    settled: dict[tuple[str, str], tuple[Decimal, Decimal, bool]] = field(default_factory=dict)
    usage_checked: int = 0  # usage whose latest rating was checked against the versions in force
    # versions and changes of plan whose re-rating the version watcher has not carried out yet, and the
    # usage that awaits it
    pending_versions: list[str] = field(default_factory=list)
    awaiting_rerating: list[str] = field(default_factory=list)

    @property
    def unsettled(self) -> list[tuple[str, str]]:
        """Months whose tiered cost the tier settlement has not caught up with
        (yet: the settler runs a moment behind the usage)."""
        return sorted(
            month
            for month, cost in self.tiered_cost.items()
            if cost != (self.settled[month][0] if month in self.settled else ZERO)
        )


@money_math
def audit_history(
    app: Tally, progress: Callable[[int], None] | None = None, checkpoints: Checkpoints | None = None
) -> HistoryReport:
    """Audit the log as it stands now. `checkpoints` say how far the version
    watcher has carried out re-rating; without them, no version counts as
    carried out, so no usage's rating is held against the versions in force."""
    head = app.store.head()
    app.reference.refresh()  # after the head: the reference data know every version the audited log publishes
    report = HistoryReport()
    latest = LatestRatings(app)  # a usage's rating before a correction, read from the log when one comes
    standings: dict[Any, Standing] = {}  # usage aggregate → its latest rating, where it is not the one in force
    versions = Versions(checkpoints.get(SETTLED_CHECKPOINT) if checkpoints is not None else 0)
    position = 0
    while position < head:
        page = app.store.recorder.select_notifications(position, PAGE, stop=head, inclusive_of_start=False)
        for notification in page:
            event = app.store.mapper.to_domain_event(notification)
            report.events += 1
            journals = _check_entries(report, notification.id, event)
            if isinstance(event, (UsageRecorded, UsageRerated, UsageUnpriced)):
                _check_usage(app, report, latest, standings, notification.id, event, journals)
            elif isinstance(event, (PriceVersionPublished, PlanVersionPublished, CustomerUpdated)):
                versions.note(app, notification.id, event)
            elif isinstance(event, TierSettled):
                _check_settlement(report, notification.id, event)
            elif isinstance(event, InvoiceIssued):
                _check_invoice(report, notification.id, event)
        if progress is not None:
            progress(len(page))
        if len(page) < PAGE:
            break
        position = page[-1].id
    report.usage_checked = latest.usage
    _check_in_force(app, report, standings, versions)
    for currency in sorted(set(report.debits) | set(report.credits)):
        if report.debits[currency] != report.credits[currency]:
            report.problems.append(f"trial balance in {currency} is not zero")
    return report


def _check_usage(
    app: Tally,
    report: HistoryReport,
    latest: LatestRatings,
    standings: dict[Any, Standing],
    position: int,
    event: Any,
    journals: list[JournalEntry] | None,
) -> None:
    """`journals`: the event's entries as _check_entries parsed them (None
    where they were not valid): a recorded usage's is its rating's entry,
    which the rating's check then need not parse again."""
    if isinstance(event, UsageUnpriced):
        quantities, rating = dict(event.usage), None
        _check_unpricing(app, report, position, event)
        _check_deltas(report, position, event)
    elif isinstance(event, UsageRerated):
        quantities, rating = {line["unit"]: line["quantity"] for line in event.rating["lines"]}, event.rating
        _check_rating(app, report, position, event, quantities)
        _check_deltas(report, position, event)
    else:
        quantities, rating = event.usage, event.rating
        if rating:
            _check_rating(app, report, position, event, quantities, journals)
    _follow(report, latest, position, event)
    try:
        found = standing(app, event, quantities, rating)
    except (AssertionError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        report.problems.append(f"event {position}: its rating cannot be held against the versions in force: {error!r}")
        return
    if found.disagreement is None:
        standings.pop(event.originator_id, None)  # only disagreements are kept: memory goes to what needs a word
    else:
        standings[event.originator_id] = found


def _check_in_force(app: Tally, report: HistoryReport, standings: dict[Any, Standing], versions: Versions) -> None:
    """The usage whose latest rating is not the one in force: awaiting the
    version watcher where a pending version may explain it, else a problem."""
    pending = versions.pending(app)
    report.pending_versions = [found.label for found in pending]
    for found in standings.values():
        assert found.disagreement is not None, "only disagreements are kept"
        if awaiting(found, pending):
            report.awaiting_rerating.append(found.label)
        else:
            report.problems.append(f"usage {found.label}: {found.disagreement}")


def _check_unpricing(app: Tally, report: HistoryReport, position: int, event: Any) -> None:
    """An unpricing names the versions in force at the usage's moment and the
    units they leave without a rate: the price version must exist and have no
    rate for any of those units (or no price or plan version be in force)."""
    try:
        in_force = event.in_force
        book = app.reference.price_books.get(in_force["price_book"])
        number, units = in_force["price_version"], list(in_force["unpriced_units"])
        if book is None or (number is not None and not 0 < int(number) <= len(book.versions)):
            report.problems.append(f"event {position}: the unpricing names a price version that does not exist")
            return
        prices = book.versions[int(number) - 1] if number is not None else None
        leaves_unpriced = (
            prices is None
            or in_force["plan_version"] is None
            or (
                bool(units)
                and all(
                    event.usage.get(unit, 0) > 0 and prices.rate_for(event.provider, event.model, unit) is None
                    for unit in units
                )
            )
        )
    except (ValueError, KeyError, TypeError) as error:
        report.problems.append(f"event {position}: the unpricing cannot be rechecked: {error!r}")
        return
    if not leaves_unpriced:
        report.problems.append(f"event {position}: the unpricing names versions that price the usage")


def _check_entries(report: HistoryReport, position: int, event: object) -> list[JournalEntry] | None:
    """Every carried entry must parse into valid postings: positive, exact to
    12 places, between two known accounts, in one currency. With transfer-
    style postings, debits equal credits by construction; what can break is a
    posting itself, and this is where a corrupted history shows."""
    try:
        journals = entries_of(event)  # each entry checks itself as it is built: balanced, its postings valid
    except (AssertionError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        report.problems.append(f"event {position}: its journal entry is not valid: {error!r}")
        return None
    for journal in journals:
        report.entries += 1
        for posting in journal.postings:
            report.debits[posting.currency] += posting.amount
            report.credits[posting.currency] += posting.amount
    return journals


def _check_rating(
    app: Tally,
    report: HistoryReport,
    position: int,
    event: Any,
    usage: dict[str, int],
    entries: list[JournalEntry] | None = None,
) -> None:
    """`entries`: a recorded usage's entries as _check_entries parsed them
    (its rating's entry, or none when the rating has none); None (a
    correction, or entries that did not parse): the rating's entry is parsed
    here, and a failure is this check's to report too."""
    try:
        _recompute(app, report, position, event, usage, entries)
    except (AssertionError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        report.problems.append(f"event {position}: its rating cannot be recomputed: {error!r}")


def _recompute(
    app: Tally,
    report: HistoryReport,
    position: int,
    event: Any,
    usage: dict[str, int],
    entries: list[JournalEntry] | None,
) -> None:
    if entries is None:
        stored = Rating.from_dict(event.rating)
    else:
        stored = Rating.with_entry(event.rating, entries[0] if entries else None)
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
    charged = charged_account(event.rating["entry"])  # the stored entry stored.entry was parsed from
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


@dataclass(frozen=True)
class Latest:
    """A usage's latest rating in brief (versions None: unpriced)."""

    cost: Decimal
    charge: Decimal
    price_version: int | None
    plan_version: int | None
    tiered_cost: Decimal

    @property
    def priced(self) -> bool:
        return self.price_version is not None


UNPRICED = Latest(ZERO, ZERO, None, None, ZERO)


class LatestRatings:
    """Each usage's latest rating, in brief, as of the event being audited.
    Nothing is kept per usage: a first rating follows none, and a correction or
    an unpricing reads the one event of its usage before it from the log. So
    the audit's memory does not grow with the usage it has checked."""

    def __init__(self, app: Tally) -> None:
        self.app = app
        self.usage = 0  # usage aggregates seen (each starts with its recording)
        self.lookups = 0

    def before(self, event: Any) -> Latest:
        if isinstance(event, UsageRecorded):
            self.usage += 1
            return UNPRICED
        self.lookups += 1
        recorder = self.app.store.recorder
        found = recorder.select_events(event.originator_id, lte=event.originator_version - 1, desc=True, limit=1)
        try:
            return (
                _brief(getattr(self.app.store.mapper.to_domain_event(found[0]), "rating", None)) if found else UNPRICED
            )
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return UNPRICED  # an event that cannot be read was reported when the audit came to it


def _brief(rating: Any) -> Latest:
    if not rating:
        return UNPRICED
    cost = Decimal(rating["cost"])
    tiered_cost = cost if rating.get("tiered") else ZERO
    return Latest(
        cost, Decimal(rating["charge"]), int(rating["price_version"]), int(rating["plan_version"]), tiered_cost
    )


def _follow(report: HistoryReport, latest: LatestRatings, position: int, event: Any) -> None:
    """Hold each correction or unpricing against its usage's rating before it:
    it must state the differences from it and name its versions, a first
    rating follows none, and each month's tiered cost is the sum of its
    usage's latest tiered costs."""
    now = _brief(getattr(event, "rating", None))
    before = latest.before(event)
    if isinstance(event, (UsageRerated, UsageUnpriced)):
        _check_follows(report, position, event, before, now)
    month = (event.customer, period_of(event.occurred_at))
    report.tiered_cost[month] += now.tiered_cost - before.tiered_cost


def _check_follows(report: HistoryReport, position: int, event: Any, before: Latest, now: Latest) -> None:
    what = "unpricing" if isinstance(event, UsageUnpriced) else "re-rating"
    if before.priced:
        replaces = event.replaces or {}
        if (replaces.get("price_version"), replaces.get("plan_version")) != (before.price_version, before.plan_version):
            report.problems.append(f"event {position}: the {what} names versions its usage was not rated at")
    elif event.replaces is not None:
        report.problems.append(f"event {position}: the {what} replaces a rating the usage does not have")
    if (Decimal(event.delta_cost), Decimal(event.delta_charge)) != (now.cost - before.cost, now.charge - before.charge):
        report.problems.append(f"event {position}: the {what}'s differences are not new minus previous")


def _check_settlement(report: HistoryReport, position: int, event: Any) -> None:
    """A tier settlement states the ladder's whole difference at the cost it
    accounts for, and posts exactly the change from the one before."""
    month = (event.customer, event.period)
    before_difference, was_closed = (
        (report.settled[month][1], report.settled[month][2]) if month in report.settled else (ZERO, False)
    )
    try:
        cost, difference, delta = Decimal(event.tiered_cost), Decimal(event.difference), Decimal(event.delta)
        ladder = Tiers.from_dict(event.tiers) if event.tiers else None
        expected = ladder_difference(ladder, cost, closed=was_closed or event.closes)
        posted = sum((Decimal(p["amount"]) for p in event.entry["postings"]), ZERO) if event.entry else ZERO
    except (AssertionError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        report.problems.append(f"event {position}: tier settlement cannot be recomputed: {error!r}")
        return
    report.settlements_checked += 1
    if difference != expected:
        report.problems.append(f"event {position}: tier settlement states {difference}, the ladder gives {expected}")
    if delta != difference - before_difference or posted != abs(delta):
        report.problems.append(f"event {position}: tier settlement posts {posted} for a change of {delta}")
    report.settled[month] = (cost, difference, was_closed or bool(event.closes))


def _check_invoice(report: HistoryReport, position: int, event: Any) -> None:
    """An invoice's figures follow from its lines: the subtotal, tier and note
    totals add up, the total is the exact sum rounded half-even to the minor
    unit (a statement's is not rounded), the rounding entry posts exactly the
    difference, and what is due is the total less the credit applied."""
    try:
        figures = {name: Decimal(value) for name, value in event.figures.items()}
        subtotal = sum((Decimal(line["amount"]) for line in event.lines), ZERO)
        tiers = sum((Decimal(line["amount"]) for line in event.tiers), ZERO)
        notes = sum((Decimal(note["total"]) for note in event.notes), ZERO)
        exact_total = subtotal + tiers + notes
        statement = event.kind == "statement"
        total = exact_total if statement else round_to_minor_unit(exact_total, event.currency)
        posted = sum((Decimal(p["amount"]) for p in event.entry["postings"]), ZERO) if event.entry else ZERO
    except (ValueError, KeyError, TypeError, ArithmeticError) as error:
        report.problems.append(
            f"event {position}: invoice {getattr(event, 'invoice_id', '?')} cannot be rechecked: {error!r}"
        )
        return
    report.invoices_checked += 1
    expected = {
        "subtotal": subtotal, "tier_adjustment": tiers, "corrections": notes, "total_exact": exact_total,
        "total": total, "rounding": total - exact_total,
        "amount_due": ZERO if statement else max(total, ZERO) - figures.get("credits_applied", ZERO),
    }  # fmt: skip
    wrong = sorted(name for name, value in expected.items() if figures.get(name) != value)
    if wrong:
        report.problems.append(f"event {position}: invoice {event.invoice_id} states wrong {', '.join(wrong)}")
    if posted != abs(total - exact_total):
        report.problems.append(f"event {position}: invoice {event.invoice_id} posts {posted} of rounding")
