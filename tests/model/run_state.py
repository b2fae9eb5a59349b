"""What one model-based run carries from step to step: the server session,
the reference model, the random workload, and what the steps have sent."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.model.invoice_model import InvoiceFigures
from tests.model.ledger_model import LedgerModel
from tests.model.server_session import ServerSession
from tests.model.workload import Calendar, Workload


@dataclass
class CardPayment:
    """A payment the card processor made: a card top-up, or an invoice paid by card."""

    customer: str
    payment_intent: str
    amount: Decimal
    invoice: InvoiceFigures | None = None  # None: a card top-up
    refunded: Decimal = Decimal(0)  # the charge's refunded total, as Stripe states it
    disputed: Decimal = Decimal(0)

    @property
    def left(self) -> Decimal:
        return self.amount - self.refunded - self.disputed


@dataclass
class Run:
    session: ServerSession
    model: LedgerModel
    rng: random.Random
    calendar: Calendar
    workload: Workload
    counts: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # Whether no version was published since the server last agreed with the model:
    # then no re-rating is pending, and what the server reads next is fully known.
    quiet: bool = True
    accepted_events: list[dict[str, Any]] = field(default_factory=list)
    # Moments that usage and versions like to fall on: versions' effective_from, and
    # a microsecond either side of each change of plan's window.
    boundaries: list[datetime] = field(default_factory=list)
    billing_periods: list[tuple[datetime, datetime]] = field(default_factory=list)
    billed: list[tuple[datetime, datetime]] = field(default_factory=list)
    top_up_bodies: list[tuple[str, dict[str, Any], int, str]] = field(default_factory=list)
    authorization_bodies: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    card_payments: list[CardPayment] = field(default_factory=list)

    def prepaid(self) -> list[str]:
        return sorted(c for c, found in self.model.customers.items() if found.billing == "prepaid")

    def customers(self) -> list[str]:
        return sorted(self.model.customers)
