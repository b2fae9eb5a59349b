"""The in-memory reference data (customers, price books, plans, webhook
endpoints) as a starting process loads it: built from the pages of the log
it reads, with no read per aggregate, and equal to each aggregate as the
store gives it; an aggregate changed after a load is read whole. On both
stores."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from application.customers import key_hash
from application.reference import PAGE_SIZE, ReferenceData
from interfaces.bootstrap import Services
from tests.support import rates_json, seed


class CountingRepository:
    """The store's repository, counting the aggregates read through it."""

    def __init__(self, repository: Any) -> None:
        self.repository = repository
        self.event_store = repository.event_store
        self.read: list[UUID] = []

    def get(self, aggregate_id: UUID) -> Any:
        self.read.append(aggregate_id)
        return self.repository.get(aggregate_id)


def fresh_copy(services: Services) -> tuple[ReferenceData, CountingRepository]:
    store = services.app.store
    repository = CountingRepository(store.repository)
    return ReferenceData(store.recorder, repository, store.head), repository  # type: ignore[arg-type]


def assert_same_as_the_store(services: Services, reference: ReferenceData) -> None:
    repository = services.app.store.repository
    everything = {**reference.customers, **reference.price_books, **reference.plans, **reference.webhook_endpoints}
    assert everything
    for loaded in everything.values():
        stored = repository.get(loaded.id)
        assert type(loaded) is type(stored)
        assert vars(loaded) == vars(stored), loaded.id
    keys = {
        hashed: (customer.customer_id, key_id)
        for customer in reference.customers.values()
        for key_id, hashed in customer.api_keys.items()
    }
    assert reference.customer_by_key_hash == keys


def history(services: Services) -> dict[str, str]:
    """Every kind of reference event, some customers changed many times."""
    app = services.app
    seed(app, customers=tuple(f"c{number:03d}" for number in range(40)))
    app.catalog.publish_price_version("default", datetime(2026, 2, 1, tzinfo=UTC), rates_json(), "manual")
    app.catalog.publish_plan_version("pro", datetime(2026, 2, 1, tzinfo=UTC), Decimal("25"), [])
    endpoint = app.webhooks.create_webhook_endpoint("https://example.test/hook", ["alert.raised"])
    app.webhooks.disable_webhook_endpoint(endpoint.endpoint_id)
    keys = {}
    for number in range(0, 40, 3):
        customer = f"c{number:03d}"
        app.customers.update_customer(customer, f"Customer {number}", None, None)
        first, second = app.customers.issue_api_key(customer), app.customers.issue_api_key(customer)
        app.customers.revoke_api_key(customer, first.id)
        keys[first.key], keys[second.key] = "", customer
    return keys


def test_a_cold_load_reads_no_aggregate_of_its_own(services: Services) -> None:
    keys = history(services)
    reference, repository = fresh_copy(services)
    reference.refresh()
    assert repository.read == []
    assert len(reference.customers) == 40
    assert_same_as_the_store(services, reference)
    for key, owner in keys.items():  # a revoked key names no one
        assert reference.customer_by_key_hash.get(key_hash(key), ("",))[0] == owner


def test_a_cold_load_over_many_pages(services: Services) -> None:
    app = services.app
    seed(app, customers=())
    for number in range(PAGE_SIZE + 20):
        app.customers.create_customer(f"p{number:04d}", "P", "USD", "pro", "prepaid", 30, None)
    app.customers.update_customer("p0000", "First, changed after hundreds of others", None, None)
    reference, repository = fresh_copy(services)
    reference.refresh()
    assert repository.read == []
    assert reference.customers["p0000"].name == "First, changed after hundreds of others"
    assert_same_as_the_store(services, reference)


def test_after_a_load_a_changed_aggregate_is_read_whole_and_a_new_one_built(services: Services) -> None:
    history(services)
    reference, repository = fresh_copy(services)
    reference.refresh()
    before = reference.customers["c001"]
    app = services.app
    app.customers.update_customer("c001", "Renamed", None, None)
    issued = app.customers.issue_api_key("c002")
    app.customers.create_customer("newcomer", "New", "USD", "pro", "prepaid", 30, None)
    reference.refresh()
    assert sorted(repository.read) == sorted([before.id, reference.customers["c002"].id])
    assert reference.customers["c001"] is not before
    assert reference.customers["c001"].name == "Renamed"
    assert reference.customer_by_key_hash[key_hash(issued.key)] == ("c002", issued.id)
    assert "newcomer" in reference.customers
    assert_same_as_the_store(services, reference)
