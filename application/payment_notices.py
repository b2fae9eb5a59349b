"""What the card processor tells tally after the fact: payments that
succeeded or failed, refunds and disputes. Each is applied to the top-up or
invoice it concerns, whose state makes a repeated or late notice change
nothing (a success after a success, a failure after a success, a refund
total already posted, a dispute already recorded)."""

from __future__ import annotations

import logging

from application.card_payments import CardPayments
from application.errors import NotFound
from application.invoicing import Billing
from application.ports import PaymentNotice
from application.wallets import Wallets
from domain.card_top_up import CardTopUp

logger = logging.getLogger(__name__)


class PaymentNotices:
    """Dispatches each notice to the wallets (top-ups) or billing (invoices)."""

    def __init__(self, wallets: Wallets, billing: Billing, cards: CardPayments) -> None:
        self.wallets = wallets
        self.billing = billing
        self.cards = cards

    def handle_payment_notice(self, notice: PaymentNotice) -> str:
        """Apply a verified notice; returns what was done, for the log."""
        target = notice.target or self.cards.target_of(notice.payment_intent)
        if target is None:
            return "ignored: not a payment tally made"
        kind, customer, target_id = target
        try:
            if kind == "top_up":
                return self._top_up_notice(customer, target_id, notice)
            return self.billing.invoice_payment_notice(customer, target_id, notice)
        except NotFound:
            return f"ignored: {kind} {target_id!r} of {customer!r} is not known here"

    def _top_up_notice(self, customer: str, top_up_id: str, notice: PaymentNotice) -> str:
        if notice.kind == "payment":
            assert notice.outcome is not None
            top_up = self.wallets.apply_top_up_outcome(customer, top_up_id, notice.outcome)
            return f"top-up {top_up_id} is {top_up.status}"
        if notice.kind == "refund":
            assert notice.refunded_total is not None
            total = notice.refunded_total

            def refund(found: CardTopUp) -> None:
                found.refund(total, notice.charge)

            self.wallets.change_card_top_up(customer, top_up_id, refund)
            return f"top-up {top_up_id} refunded {total} in all"
        assert notice.dispute is not None and notice.dispute_amount is not None
        dispute, amount = notice.dispute, notice.dispute_amount

        def disputed(found: CardTopUp) -> None:
            found.dispute(dispute, amount)

        self.wallets.change_card_top_up(customer, top_up_id, disputed)
        return f"top-up {top_up_id} disputed ({dispute})"
