"""The reference ledger: what every balance, account, spend and invoice must
be after a sequence of operations, computed with plain Decimal arithmetic
from the contract's rules (../shared/docs/contract.md, docs/rating.md,
docs/collection.md, docs/control.md). Nothing here comes from the
application: if the two disagree, one of them misreads the contract.

Amounts the model cannot know until the server states them (an invoice read
while re-ratings were still pending) are taken from the server and then
checked against what the model can say of them (see invoice_model.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from tests.model.invoice_model import InvoiceFigures
from tests.model.plan_history import PlanChange, PlanHistory
from tests.model.rating_model import PlanVersion, PriceVersion, Rating, Usage, rate

ZERO = Decimal(0)
FUTURE_LIMIT = timedelta(minutes=5)
UNITS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "requests",
        "images",
        "audio_seconds",
        "characters",
    }
)


@dataclass
class Customer:
    customer_id: str
    billing: str  # prepaid | postpaid | invoice
    first_plan: str  # the plan it registered with
    currency: str
    card: str | None  # "good", "declined" or no card on file
    limit: tuple[str, Decimal] | None = None  # a hard limit per day or month
    grants: Decimal = ZERO
    card_top_ups: Decimal = ZERO
    card_payments: Decimal = ZERO
    bank_payments: Decimal = ZERO
    credit_carried: Decimal = ZERO
    invoices: list[InvoiceFigures] = field(default_factory=list)
    plans: PlanHistory = field(init=False)

    def __post_init__(self) -> None:
        self.plans = PlanHistory(self.first_plan)

    @property
    def plan(self) -> str:
        """The plan as last set: usage from now on is under it."""
        return self.plans.current

    @property
    def funds(self) -> Decimal:
        return self.grants + self.card_top_ups

    @property
    def past_due(self) -> bool:
        """While an invoice's card charge has failed, authorizations are refused."""
        return any(invoice.status == "payment_failed" for invoice in self.invoices)

    @property
    def rounding(self) -> Decimal:
        return sum((invoice.rounding for invoice in self.invoices), ZERO)


@dataclass
class Hold:
    authorization_id: str
    customer: str
    amount: Decimal
    expires_at: datetime
    voided: bool = False
    captured: bool = False

    def open_at(self, moment: datetime) -> bool:
        """A hold expires at its expiry moment (the moment itself counts as expired)."""
        return not (self.voided or self.captured) and self.expires_at > moment


class LedgerModel:
    def __init__(self) -> None:
        self.prices: dict[str, list[PriceVersion]] = {}  # per price book, in the order published
        self.currencies: dict[str, str] = {}  # per price book
        self.plans: dict[str, list[PlanVersion]] = {}
        self.price_book_of: dict[str, str] = {}  # per plan
        self.customers: dict[str, Customer] = {}
        self.usage: dict[tuple[str, str], Usage] = {}
        self.bodies: dict[tuple[str, str], str] = {}  # the canonical body of the first accepted copy
        self.holds: dict[str, Hold] = {}
        # What the server may show for each usage's charge until the next quiet moment: its
        # rating under any of the version sets published since (re-rating is asynchronous).
        self.possible_charges: dict[tuple[str, str], set[Decimal]] = {}
        self._ratings: dict[tuple[str, str], Rating | None] = {}  # as the versions stand; cleared when they change
        # The plan the server chose for usage timestamped inside a change's window (either was right).
        self.settled_plans: dict[tuple[str, str], str] = {}

    # Reference data ----------------------------------------------------------------

    def add_price_book(self, price_book: str, currency: str, first: PriceVersion) -> None:
        self.prices[price_book] = [first]
        self.currencies[price_book] = currency

    def add_plan(self, plan: str, price_book: str, first: PlanVersion) -> None:
        self.plans[plan] = [first]
        self.price_book_of[plan] = price_book

    def add_customer(self, customer: Customer) -> None:
        assert customer.currency == self.currency_of(customer.first_plan), "one currency per customer"
        self.customers[customer.customer_id] = customer

    def currency_of(self, plan: str) -> str:
        return self.currencies[self.price_book_of[plan]]

    def change_plan(self, customer: str, change: PlanChange) -> None:
        """Record a change of plan. Usage inside its window is then under no
        known plan until `settle_plan` names the server's choice for it, and
        only then may `widen` add each usage's new charge to what it may show."""
        assert self.currency_of(change.plan) == self.customers[customer].currency, "a plan of the customer's currency"
        self.customers[customer].plans.change(change)
        self._ratings.clear()

    def settle_plan(self, usage: Usage, plan: str) -> None:
        window = self.customers[usage.customer].plans.window_at(usage.timestamp)
        assert window is not None and plan in (window.previous, window.plan), (usage, plan, window)
        self.settled_plans[usage.key] = plan
        self._ratings.pop(usage.key, None)

    def widen(self) -> None:
        """A change the server re-rates asynchronously: until the next agreement
        each usage's charge may show its rating before or after it."""
        self._widen_possible_charges()

    def publish_prices(self, price_book: str, version: PriceVersion) -> None:
        self.prices[price_book].append(version)
        self._ratings.clear()
        self._widen_possible_charges()

    def publish_plan(self, plan: str, version: PlanVersion) -> None:
        self.plans[plan].append(version)
        self._ratings.clear()
        self._widen_possible_charges()

    def next_price_number(self, price_book: str) -> int:
        return len(self.prices[price_book]) + 1

    def next_plan_number(self, plan: str) -> int:
        return len(self.plans[plan]) + 1

    # Rating ------------------------------------------------------------------------

    def plan_of(self, usage: Usage) -> str:
        """The plan its customer had at the usage's moment (the server's choice inside a change's window)."""
        found = self.settled_plans.get(usage.key) or self.customers[usage.customer].plans.at(usage.timestamp)
        assert found is not None, f"{usage.key} at {usage.timestamp} lies inside a change of plan's window, unsettled"
        return found

    def rating(self, usage: Usage) -> Rating | None:
        if usage.key not in self._ratings:
            self._ratings[usage.key] = self.rating_under(usage, self.plan_of(usage))
        return self._ratings[usage.key]

    def rating_under(self, usage: Usage, plan: str) -> Rating | None:
        return rate(usage, self.prices[self.price_book_of[plan]], self.plans[plan])

    def charge(self, usage: Usage) -> Decimal:
        found = self.rating(usage)
        return found.charge if found else ZERO

    def _widen_possible_charges(self) -> None:
        for key, usage in self.usage.items():
            self.possible_charges[key].add(self.charge(usage))

    def settle(self) -> None:
        """The server was seen to agree with the model: nothing is pending."""
        self.possible_charges = {key: {self.charge(usage)} for key, usage in self.usage.items()}

    # Metering ----------------------------------------------------------------------

    def rejection(self, event: dict[str, object], now: datetime) -> str | None:
        """Why the contract rejects this event on its own, if it does."""
        if event.get("customer") not in self.customers:
            return "not_found"
        quantities = event.get("usage")
        assert isinstance(quantities, dict)
        if any(unit not in UNITS for unit in quantities):
            return "validation_error"
        if any(type(count) is not int or count < 0 for count in quantities.values()):
            return "validation_error"
        timestamp = event["timestamp"]
        assert isinstance(timestamp, str)
        if datetime.fromisoformat(timestamp) > now + FUTURE_LIMIT:
            return "validation_error"
        return None

    def record(self, usage: Usage, canonical: str) -> str:
        """accepted, duplicate or conflict; the first body stands."""
        stored = self.bodies.get(usage.key)
        if stored is not None:
            return "duplicate" if stored == canonical else "conflict"
        self.bodies[usage.key] = canonical
        self.usage[usage.key] = usage
        self.possible_charges[usage.key] = {self.charge(usage)}
        hold = self.holds.get(usage.authorization_id or "")
        if hold is not None and hold.customer == usage.customer:
            hold.captured = True  # the first usage naming a hold captures it
        return "accepted"

    def usage_of(self, customer: str) -> Iterable[Usage]:
        return (usage for usage in self.usage.values() if usage.customer == customer)

    # Balances and accounts -----------------------------------------------------------

    def charges(self, customer: str) -> Decimal:
        return sum((self.charge(usage) for usage in self.usage_of(customer)), ZERO)

    def balance(self, customer: str) -> Decimal:
        """Prepaid: the wallet, funds minus charges. Postpaid and invoice: minus
        what is owed (usage, and invoices' rounding, less what was paid)."""
        found = self.customers[customer]
        if found.billing == "prepaid":
            return found.funds - self.charges(customer)
        return -(self.charges(customer) + found.rounding - found.card_payments - found.bank_payments)

    def held(self, customer: str, moment: datetime) -> Decimal:
        return sum((h.amount for h in self.holds.values() if h.customer == customer and h.open_at(moment)), ZERO)

    def spend(self, customer: str, start: datetime, end: datetime) -> Decimal:
        return sum((self.charge(u) for u in self.usage_of(customer) if start <= u.timestamp < end), ZERO)

    def by_model(self, customer: str, start: datetime, end: datetime) -> dict[tuple[str, str], Decimal]:
        found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for usage in self.usage_of(customer):
            if start <= usage.timestamp < end and (rating := self.rating(usage)) is not None:
                found[(usage.provider, usage.model)] += rating.charge
        return {key: amount for key, amount in found.items() if amount}

    def accounts(self) -> dict[tuple[str, str], Decimal]:
        """Every account's balance per currency, on its normal side, as the trial balance shows it."""
        found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for usage in self.usage.values():
            rating = self.rating(usage)
            if rating is None:
                continue
            currency = self.customers[usage.customer].currency
            found[(currency, "revenue:usage")] += rating.charge
            found[(currency, f"expenses:provider:{usage.provider}")] += rating.cost
            found[(currency, f"liabilities:payable:provider:{usage.provider}")] += rating.cost
        for customer in self.customers.values():
            name, currency = customer.customer_id, customer.currency
            if customer.billing == "prepaid":
                found[(currency, f"liabilities:wallet:{name}")] += self.balance(name)
            else:
                found[(currency, f"assets:receivable:{name}")] -= self.balance(name)
            found[(currency, "expenses:grants")] += customer.grants
            found[(currency, "assets:cash:stripe")] += customer.card_top_ups + customer.card_payments
            found[(currency, "assets:cash:bank")] += customer.bank_payments
            found[(currency, "expenses:rounding")] -= customer.rounding
        return {key: amount for key, amount in found.items() if amount}

    def billed_through(self, customer: str, end: datetime) -> Decimal:
        """What all of a customer's invoices up to a period ending at `end` must
        add up to, once every rating is final: the charges of its usage before `end`."""
        return sum((self.charge(u) for u in self.usage_of(customer) if u.timestamp < end), ZERO)
