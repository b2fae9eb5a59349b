"""What the card processor tells tally after the fact: payments that
succeeded or failed, refunds and disputes. Each is applied to the top-up or
invoice it concerns, whose state makes a repeated or late notice change
nothing (a success after a success, a failure after a success, a refund
total already posted, a dispute already recorded)."""

from __future__ import annotations

import logging

from application.errors import NotFound
from application.ports import PaymentNotice
from application.tier_settlements import TierSettlements
from domain.card_top_up import CardTopUp

logger = logging.getLogger(__name__)


class PaymentNotices(TierSettlements):
    def handle_payment_notice(self, notice: PaymentNotice) -> str:
        """Apply a verified notice; returns what was done, for the log."""
        target = notice.target or self._target_of(notice)
        if target is None:
            return "ignored: not a payment tally made"
        kind, customer, target_id = target
        try:
            if kind == "top_up":
                return self._top_up_notice(customer, target_id, notice)
            return self.invoice_payment_notice(customer, target_id, notice)
        except NotFound:
            return f"ignored: {kind} {target_id!r} of {customer!r} is not known here"

    def _target_of(self, notice: PaymentNotice) -> tuple[str, str, str] | None:
        """Refund and dispute payloads describe the charge, which need not
        carry the payment's metadata: ask the processor for the payment's."""
        if self.payments is None or notice.payment_intent is None:
            return None
        metadata = self.payments.payment_metadata(notice.payment_intent)
        kind, customer, target = metadata.get("tally_kind"), metadata.get("tally_customer"), metadata.get("tally_id")
        if kind in ("top_up", "invoice") and customer and target:
            return (kind, customer, target)
        return None

    def _top_up_notice(self, customer: str, top_up_id: str, notice: PaymentNotice) -> str:
        if notice.kind == "payment":
            assert notice.outcome is not None
            top_up = self.apply_top_up_outcome(customer, top_up_id, notice.outcome)
            return f"top-up {top_up_id} is {top_up.status}"
        if notice.kind == "refund":
            assert notice.refunded_total is not None
            total = notice.refunded_total

            def refund(found: CardTopUp) -> None:
                found.refund(total, notice.charge)

            self._change_card_top_up(customer, top_up_id, refund)
            return f"top-up {top_up_id} refunded {total} in all"
        assert notice.dispute is not None and notice.dispute_amount is not None
        dispute, amount = notice.dispute, notice.dispute_amount

        def disputed(found: CardTopUp) -> None:
            found.dispute(dispute, amount)

        self._change_card_top_up(customer, top_up_id, disputed)
        return f"top-up {top_up_id} disputed ({dispute})"

    def invoice_payment_notice(self, customer: str, invoice_id: str, notice: PaymentNotice) -> str:
        """Invoices answer this once they exist (see application/invoicing.py)."""
        raise NotFound(f"invoice {invoice_id!r}")
