"""Policies over prepaid wallets, run on the application's clock: grants
expire on their date (what is left of them leaves the wallet, as a ledger
entry), and a wallet below its auto top-up threshold starts one card
top-up, never two at once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from eventsourcing.persistence import IntegrityError

from application import validation
from application.card_payments import CardPayments
from application.customers import Customers
from application.errors import Conflict, ValidationFailed
from application.event_store import EventStore
from application.invoicing import parse_time
from application.ports import Clock, WalletReads
from application.read_model_barrier import ReadModelBarrier
from application.reference import ReferenceData
from application.wallets import Wallets
from domain import accounts
from domain.customer import Customer
from domain.money import minor_unit
from domain.top_up import TopUp
from domain.wallet import Grant, unspent_at_expiry

CATCH_UP_SECONDS = 5.0
AUTO_TOP_UP_PAUSE = timedelta(hours=1)  # after a declined auto top-up, before the next


class WalletPolicies:
    def __init__(
        self,
        store: EventStore,
        reference: ReferenceData,
        customers: Customers,
        wallets: Wallets,
        wallet_reads: WalletReads,
        barrier: ReadModelBarrier,
        cards: CardPayments,
        clock: Clock,
    ) -> None:
        self.store = store
        self.reference = reference
        self.customers = customers
        self.wallets = wallets
        self.wallet_reads = wallet_reads
        self.barrier = barrier
        self.cards = cards
        self.clock = clock

    def set_auto_top_up(self, customer_id: str, threshold: str | None, amount: str | None) -> Customer:
        customer = self.customers.stored(customer_id)
        if (threshold is None) != (amount is None):
            raise ValidationFailed("give both threshold and amount, or neither", [{"loc": "amount", "msg": "pair"}])
        if threshold is not None and amount is not None:
            limit = validation.amount(threshold, "threshold", positive=True)
            refill = validation.amount(amount, "amount", positive=True)
            if customer.billing != "prepaid":
                raise ValidationFailed(
                    "auto top-up is for prepaid wallets", [{"loc": "customer", "msg": "not prepaid"}]
                )
            if refill % minor_unit(customer.currency):
                raise ValidationFailed("amount must be whole minor units", [{"loc": "amount", "msg": "precision"}])
            self.cards.check_chargeable(customer)
            threshold, amount = str(limit), str(refill)
        customer.set_auto_top_up(threshold, amount)
        self.customers.save_changed(customer)
        return customer

    def step(self) -> int:
        """The policy's pass (see run_wallet_policies)."""
        return self.run_wallet_policies()

    def run_wallet_policies(self) -> int:
        """One pass: expire what is due, start the auto top-ups that are due.
        Returns how many things it did."""
        if not self.barrier.caught_up(CATCH_UP_SECONDS):
            return 0  # the figures would be stale: next pass
        return self.expire_grants() + self.start_auto_top_ups()

    def expire_grants(self) -> int:
        expired = 0
        for customer, top_up_id in self.wallet_reads.expiring_grants(self.clock()):
            grant: TopUp = self.store.repository.get(TopUp.create_id(customer, top_up_id))
            assert grant.expires_at is not None
            spent = self.wallet_reads.spent(customer, accounts.wallet(customer), grant.expires_at)
            grants = [
                Grant(
                    str(row["top_up_id"]), Decimal(str(row["amount"])),
                    parse_time(row["expires_at"]) if row["expires_at"] else None, parse_time(row["created_at"]),
                    None if row["expired"] is None else Decimal(str(row["expired"])),
                )
                for row in self.wallet_reads.grants_of(customer)
            ]  # fmt: skip
            if grant.expire(unspent_at_expiry(grants, top_up_id, spent)):
                try:
                    self.store.save(grant)
                    expired += 1
                except IntegrityError:
                    continue  # expired concurrently
            # one at a time: the next grant's expiry needs this one's in the read model
            break
        return expired

    def start_auto_top_ups(self) -> int:
        started = 0
        now = self.clock()
        self.reference.refresh()
        for customer in list(self.reference.customers.values()):
            rule = customer.auto_top_up
            if rule is None or customer.billing != "prepaid" or not self.cards.configured:
                continue
            if self.wallet_reads.balance(customer.customer_id, customer.currency) >= Decimal(rule["threshold"]):
                continue
            history = self.wallet_reads.auto_top_ups(customer.customer_id)
            if any(row["status"] == "pending" for row in history):
                continue  # never two at once
            last = history[-1] if history else None
            if last and last["status"] == "failed" and now - parse_time(last["created_at"]) < AUTO_TOP_UP_PAUSE:
                continue  # a declined card: wait before asking it again
            top_up_id = f"auto.{len(history) + 1}"
            try:
                self.wallets.card_top_up(customer, top_up_id, Decimal(rule["amount"]), None, automatic=True)
                started += 1
            except (ValidationFailed, Conflict, IntegrityError):
                continue  # another process started this one, or the card can't be charged
        return started
