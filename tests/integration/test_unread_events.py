"""The events the ledger view does not read (an authorization's decision and
void, the customer's holds) are passed over by the follower without being
decoded. That is sound only while folding one changes nothing: these tests
fold every kind of them, as a real run stores them, and check that."""

from __future__ import annotations

from collections import Counter
from typing import Any

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from projections.ledger_view import UNREAD_EVENTS, UNREAD_TOPICS, Changes, LedgerView
from tests.support import gateway_day


def unread(services: Services) -> list[Notification]:
    recorder = services.app.store.recorder
    return [n for n in recorder.select_notifications(1, 10_000) if n.topic in UNREAD_TOPICS]


def test_folding_the_unread_events_changes_nothing(services: Services) -> None:
    gateway_day(services)
    stored = unread(services)
    assert {n.topic for n in stored} == UNREAD_TOPICS, "every kind of them was stored"
    view = LedgerView(LIVE_PREFIX, services.database.dialect)
    decode = services.app.store.mapper.to_domain_event
    for notification in stored:
        assert view.fold([(notification.id, decode(notification))]) == Changes(), notification.topic


def test_the_follower_passes_over_them_undecoded_and_its_view_equals_a_rebuild(services: Services) -> None:
    decoded: Counter[str] = Counter()

    def counting(notification: Notification) -> Any:
        decoded[notification.topic] += 1
        return services.app.store.mapper.to_domain_event(notification)

    gateway_day(services)
    head = services.app.store.head()
    services.follower.catch_up()
    assert services.follower.position == head  # passed over, not stopped at
    with services.database.snapshot() as cursor:
        projected = rebuild.dump(cursor, LIVE_PREFIX)
    rebuild.rebuild(services.app.store.recorder, counting, services.database, LIVE_PREFIX)
    with services.database.snapshot() as cursor:
        rebuilt = rebuild.dump(cursor, LIVE_PREFIX)
    assert rebuild.compare(projected, rebuilt) == []
    assert decoded, "the rebuild decoded the events it reads"
    assert not set(decoded) & UNREAD_TOPICS
    assert {get_topic(cls) for cls in UNREAD_EVENTS} == UNREAD_TOPICS
