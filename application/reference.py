"""An in-memory copy of the reference aggregates (customers, price books,
plans) that rating reads on the hot path.

It follows the notification log, filtered to reference topics, and is
brought up to date before each command that reads it: one cheap query when
nothing changed. So a customer or price version created through another
server process is seen by the next batch here.

Every event of these aggregates has a reference topic, so the pages a
refresh reads hold the whole history of each aggregate they create: such
an aggregate is built from them as they are read, with no read of its own,
and no page is kept. Only one created before the refresh's start (an
update to a customer known already) is read from the store, whole. A
process starting on a store of 100,000 customers reads them in one pass
over the log, not with a query or two each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from uuid import UUID

from eventsourcing.application import Repository, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, Notification, Recording
from eventsourcing.utils import get_topic

from application.ports import Moment
from domain.alerts import WebhookEndpoint
from domain.catalog import Plan, PriceBook
from domain.customer import Customer
from domain.events import (
    CustomerApiKeyIssued,
    CustomerApiKeyRevoked,
    CustomerAutoTopUpSet,
    CustomerBillingDetailsSet,
    CustomerLimitsSet,
    CustomerRegistered,
    CustomerStripeLinked,
    CustomerUpdated,
    PlanCreated,
    PlanVersionPublished,
    PriceBookCreated,
    PriceVersionPublished,
    WebhookEndpointCreated,
    WebhookEndpointDisabled,
)

REFERENCE_EVENT_CLASSES = (
    CustomerRegistered,
    CustomerUpdated,
    CustomerApiKeyIssued,
    CustomerApiKeyRevoked,
    CustomerStripeLinked,
    CustomerAutoTopUpSet,
    CustomerLimitsSet,
    CustomerBillingDetailsSet,
    PriceBookCreated,
    PriceVersionPublished,
    PlanCreated,
    PlanVersionPublished,
    WebhookEndpointCreated,
    WebhookEndpointDisabled,
)
REFERENCE_TOPICS = [get_topic(cls) for cls in REFERENCE_EVENT_CLASSES]
REFERENCE_TOPIC_SET = frozenset(REFERENCE_TOPICS)
PAGE_SIZE = 500
MAX_KNOWN = 10_000  # positions of this process's own other appends kept, at most


class ReferenceData:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        repository: Repository[UUID],
        head: Callable[[], int] | None = None,
        head_since: Callable[[Moment], int] | None = None,
    ) -> None:
        self._recorder = recorder
        self._head = head or (lambda: recorder.max_notification_id() or 0)
        self._head_since = head_since
        self._repository = repository
        self._position = 0
        self._lock = threading.Lock()
        # Positions this process appended events other than reference ones at:
        # a head that moved by those alone needs no read of the log.
        self._known_plain: set[int] = set()
        self._known_lock = threading.Lock()
        self.customers: dict[str, Customer] = {}
        self.price_books: dict[str, PriceBook] = {}
        self.plans: dict[str, Plan] = {}
        self.webhook_endpoints: dict[str, WebhookEndpoint] = {}
        self.customer_by_key_hash: dict[str, tuple[str, str]] = {}
        self._key_hashes_of: dict[str, list[str]] = {}  # per customer, its keys' hashes in customer_by_key_hash

    def appended(self, recordings: Sequence[Recording[UUID]]) -> None:
        """This process appended these events."""
        plain = [r.notification.id for r in recordings if r.notification.topic not in REFERENCE_TOPIC_SET]
        with self._known_lock:
            if len(self._known_plain) + len(plain) > MAX_KNOWN:
                self._known_plain.clear()  # the next refresh reads the log, as without them
            self._known_plain.update(plain)

    def refresh(self, arrived: Moment | None = None) -> None:
        """Catch up to the log's head. The position advances to the head even
        when no reference event was found, so each refresh reads only what was
        appended since the last one (usage events included in the range).
        When every position since the last one holds an event this process
        appended and knows is not a reference event, nothing is read.

        `arrived` (time.monotonic()): the moment a request arrived, when it
        must count only what was committed before it; a head read that began
        after it, shared with other askers, then serves (application/log_head.py)."""
        with self._lock:
            head = self._head() if arrived is None or self._head_since is None else self._head_since(arrived)
            if self._only_known_plain(head):
                self._position = head
            built: dict[UUID, Aggregate] = {}  # created in this refresh: built from its events, kept here until the end
            to_read: set[UUID] = set()  # created before it: read whole at the end
            position = self._position
            while position < head:
                page = self._recorder.select_notifications(
                    position, PAGE_SIZE, stop=head, topics=REFERENCE_TOPICS, inclusive_of_start=False
                )
                for notification in page:
                    self._gather(notification, built, to_read)
                position = head if len(page) < PAGE_SIZE else page[-1].id
            for aggregate in built.values():
                self._put(aggregate)
            for originator_id in to_read:
                self._put(self._repository.get(originator_id))
            self._position = head

    def _only_known_plain(self, head: int) -> bool:
        if head <= self._position or head - self._position > PAGE_SIZE:
            return False
        wanted = range(self._position + 1, head + 1)
        with self._known_lock:
            if not all(position in self._known_plain for position in wanted):
                return False
            self._known_plain.difference_update(wanted)
        return True

    def _gather(self, notification: Notification, built: dict[UUID, Aggregate], to_read: set[UUID]) -> None:
        """One event of a refresh: it creates an aggregate (version 1) or
        continues one created in this refresh (the next version), which is
        built from it; any other event's aggregate is read whole at the end."""
        originator_id = UUID(str(notification.originator_id))
        if originator_id in to_read:
            return
        aggregate = built.get(originator_id)
        expected = 1 if aggregate is None else aggregate.version + 1
        if notification.originator_version != expected:
            built.pop(originator_id, None)
            to_read.add(originator_id)
            return
        event = self._repository.event_store.mapper.to_domain_event(notification)
        projected = project_aggregate(aggregate, [event])
        assert projected is not None, "an event of an aggregate mutates it"
        built[originator_id] = projected

    def _put(self, aggregate: object) -> None:
        if isinstance(aggregate, Customer):
            self._put_customer(aggregate)
        elif isinstance(aggregate, PriceBook):
            self.price_books[aggregate.price_book_id] = aggregate
        elif isinstance(aggregate, Plan):
            self.plans[aggregate.plan_id] = aggregate
        elif isinstance(aggregate, WebhookEndpoint):
            self.webhook_endpoints[aggregate.endpoint_id] = aggregate

    def _put_customer(self, customer: Customer) -> None:
        self.customers[customer.customer_id] = customer
        for key_hash in self._key_hashes_of.pop(customer.customer_id, []):
            if self.customer_by_key_hash.get(key_hash, ("",))[0] == customer.customer_id:
                del self.customer_by_key_hash[key_hash]
        for key_id, key_hash in customer.api_keys.items():
            self.customer_by_key_hash[key_hash] = (customer.customer_id, key_id)
        self._key_hashes_of[customer.customer_id] = list(customer.api_keys.values())
