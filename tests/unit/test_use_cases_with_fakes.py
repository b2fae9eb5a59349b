"""Use cases built with fakes of what they are given: each is a class whose
constructor names its collaborators, so one can be tested without the
application around it (the integration and end-to-end suites test them
wired together, on both stores)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from application.card_payments import CardPayments
from application.catalog import Catalog
from application.errors import NotFound, ValidationFailed
from application.event_store import EventStore
from application.invoicing import Billing
from application.payment_notices import PaymentNotices
from application.ports import PaymentNotice, PaymentOutcome
from application.read_model_barrier import ReadModelBarrier
from application.reference import ReferenceData
from application.wallets import Wallets

JAN = datetime(2026, 1, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)


class FakeWallets:
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str, str]] = []

    def apply_top_up_outcome(self, customer: str, top_up_id: str, outcome: PaymentOutcome) -> Any:
        self.outcomes.append((customer, top_up_id, outcome.status))
        return type("TopUp", (), {"status": outcome.status})()


class FakeBilling:
    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.notices: list[tuple[str, str]] = []

    def invoice_payment_notice(self, customer: str, invoice_id: str, notice: PaymentNotice) -> str:
        if invoice_id not in self.known:
            raise NotFound(f"invoice {invoice_id!r}")
        self.notices.append((customer, invoice_id))
        return f"invoice {invoice_id} is paid"


def notice(target: tuple[str, str, str] | None) -> PaymentNotice:
    return PaymentNotice("evt_1", "payment", "pi_1", "ch_1", target, PaymentOutcome("succeeded", "pi_1", "ch_1"))


def test_payment_notices_go_to_the_wallet_or_the_invoice_they_name() -> None:
    wallets, billing = FakeWallets(), FakeBilling({"inv_1"})
    notices = PaymentNotices(cast(Wallets, wallets), cast(Billing, billing), CardPayments(None))
    assert notices.handle_payment_notice(notice(("top_up", "acme", "t1"))) == "top-up t1 is succeeded"
    assert notices.handle_payment_notice(notice(("invoice", "acme", "inv_1"))) == "invoice inv_1 is paid"
    assert wallets.outcomes == [("acme", "t1", "succeeded")]
    assert billing.notices == [("acme", "inv_1")]
    # an invoice this store does not know is ignored and said so; a payment without tally's metadata too
    assert notices.handle_payment_notice(notice(("invoice", "acme", "inv_9"))).startswith("ignored: invoice 'inv_9'")
    assert notices.handle_payment_notice(notice(None)) == "ignored: not a payment tally made"


class FakeHistory:
    def __init__(self) -> None:
        self.reads = 0
        self.applied = 0

    def position(self) -> int:
        self.reads += 1
        return self.applied


def test_the_barrier_waits_for_the_log_head_as_it_stands_when_asked() -> None:
    store = EventStore({})
    history = FakeHistory()
    barrier = ReadModelBarrier(store, cast(Any, history))
    assert barrier.caught_up(0.5)  # an empty log: nothing to wait for
    assert history.reads == 1
    Catalog(store, ReferenceData(store.recorder, store.repository), cast(Any, None)).create_price_book("b", "USD")
    history.reads = 0
    assert not barrier.caught_up(0.5)  # the head as it stood, 1, never applied: read again until the timeout
    assert history.reads > 1
    history.applied = store.head()
    history.reads = 0
    assert barrier.caught_up(0.5)
    assert history.reads == 1
    history.reads = 0
    barrier.close()  # the process closes: no wait, and the read model is not asked
    assert not barrier.caught_up(0.5)
    assert history.reads == 0


class FakePriceCatalog:
    """Two moments of a catalog: gpt-4o's input price halves on February 1st."""

    def source(self) -> str:
        return "fake-catalog 1"

    def change_dates(self, providers: Any, since: datetime, until: datetime) -> list[datetime]:
        return [datetime(2026, 2, 1, tzinfo=UTC)]

    def rates(self, providers: Any, at: datetime) -> list[dict[str, object]]:
        if "nobody" in providers:
            raise LookupError("unknown provider 'nobody'")
        price = "2.5" if at < datetime(2026, 2, 1, tzinfo=UTC) else "1.25"
        return [{"provider": "openai", "model": "gpt-4o", "unit": "input_tokens", "price": price, "per": 1_000_000}]


def test_importing_prices_publishes_one_version_per_moment_the_catalog_changed() -> None:
    store = EventStore({})  # the library's in-memory store: the same aggregates and events
    catalog = Catalog(store, ReferenceData(store.recorder, store.repository), FakePriceCatalog())
    catalog.create_price_book("default", "USD")
    versions = catalog.import_prices("default", ["openai"], MAR, history_since=JAN)
    assert [(v.number, v.effective_from.month) for v in versions] == [(1, 1), (2, 2), (3, 3)]
    assert [v.rates[0].price for v in versions] == [Decimal("2.5"), Decimal("1.25"), Decimal("1.25")]
    assert catalog.price_source("default", 2) == "fake-catalog 1"
    with pytest.raises(ValidationFailed, match="unknown provider"):
        catalog.import_prices("default", ["nobody"], MAR)
    assert len(catalog.price_book("default").versions) == 3  # the refused import published nothing
