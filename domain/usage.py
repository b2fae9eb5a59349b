"""The Usage aggregate: one per (customer, event id).

Its id derives from the caller's event id, so the event store's unique key
on (originator_id, version) makes deduplication hold across batches,
restarts and concurrent writers. The creation event carries the usage and,
when the model is priced, its rating with the journal entry: recorded and
rated in one atomic append, one stored row per usage event on the hot path.
Later ratings (an unpriced model priced, a backdated correction) and an
unpricing (the version in force at its moment no longer prices it) are
further events on the same aggregate, never edits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from domain.identifiers import aggregate_id
from domain.invariants import require
from domain.rating import Rating

# json.dumps(body, sort_keys=True, separators=(",", ":"), default=str), built once
CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def usage_id(customer: str, event_id: str) -> UUID:
    return aggregate_id("usage", customer, event_id)


def fingerprint(body: Mapping[str, Any]) -> str:
    """A digest of the caller's event body: the same id with another body is a
    conflict, not a retry."""
    usage = body.get("usage")
    if isinstance(usage, dict):  # a unit sent as 0 and a unit left out say the same
        body = {**body, "usage": {unit: count for unit, count in usage.items() if count}}
    canonical = CANONICAL_JSON.encode(body)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class Usage(Aggregate):
    @staticmethod
    def create_id(customer: str, event_id: str) -> UUID:
        return usage_id(customer, event_id)

    @event("Recorded")
    def __init__(
        self,
        customer: str,
        event_id: str,
        occurred_at: datetime,
        provider: str,
        model: str,
        feature: str | None,
        usage: dict[str, int],
        authorization_id: str | None,
        metadata: dict[str, Any],
        fingerprint: str,
        rating: dict[str, Any] | None,
    ) -> None:
        require(all(quantity >= 0 for quantity in usage.values()), "counts are never negative")
        self.customer = customer
        self.event_id = event_id
        self.occurred_at = occurred_at
        self.provider = provider
        self.model = model
        self.feature = feature
        self.usage = usage
        self.authorization_id = authorization_id
        self.metadata = metadata
        self.fingerprint = fingerprint
        # every rating in order; None marks an unpricing (the latest None: unpriced now)
        self.rating_records: list[dict[str, Any] | None] = [rating] if rating else []

    @event("Rerated")
    def rerate(
        self,
        customer: str,
        event_id: str,
        occurred_at: datetime,
        provider: str,
        model: str,
        feature: str | None,
        rating: dict[str, Any],
        adjustment: dict[str, Any] | None,
        delta_cost: str,
        delta_charge: str,
        replaces: dict[str, Any] | None,
        reason: str,
    ) -> None:
        """A new rating: the first one of usage that was unpriced, or a
        correction. The adjustment entry posts the difference; earlier entries
        stay as they were. The usage's identity and dimensions are repeated so
        that the event reads on its own (rollups key on them)."""
        self.rating_records.append(rating)

    @event("Unpriced")
    def unprice(
        self,
        customer: str,
        event_id: str,
        occurred_at: datetime,
        provider: str,
        model: str,
        feature: str | None,
        usage: dict[str, int],
        in_force: dict[str, Any],
        adjustment: dict[str, Any] | None,
        delta_cost: str,
        delta_charge: str,
        replaces: dict[str, Any],
        reason: str,
    ) -> None:
        """The versions in force at the usage's moment no longer price it (a
        backdated version without its model): its rating is withdrawn and the
        adjustment entry reverses its charge and provider cost, so the usage
        stands as if it had arrived unpriced. `in_force` names the price book
        and plan versions in force and the units they leave unpriced;
        `replaces` the rating withdrawn. A later version that prices it gives
        it a first rating again (a Rerated whose `replaces` is null)."""
        self.rating_records.append(None)

    @property
    def ratings(self) -> list[Rating]:
        """Every rating the usage has had, the first first (unpricings left out)."""
        return [Rating.from_dict(record) for record in self.rating_records if record is not None]

    @property
    def rating(self) -> Rating | None:
        """The latest rating; None while unpriced (as recorded, or unpriced since)."""
        latest = self.rating_records[-1] if self.rating_records else None
        return Rating.from_dict(latest) if latest is not None else None

    @classmethod
    def record(cls, *, key: UUID | None = None, **fields: Any) -> Any:
        """The creation event alone, for the hot path: what Usage(...) would put
        in its pending events, without building the aggregate object that
        metering would throw away at once. Replaying it builds the same Usage.
        `fields` are __init__'s arguments; `key` is usage_id(customer,
        event_id) when the caller has it already."""
        require(all(quantity >= 0 for quantity in fields["usage"].values()), "counts are never negative")
        recorded: Any = cls.Recorded  # type: ignore[attr-defined]
        return recorded(
            originator_id=key or usage_id(fields["customer"], fields["event_id"]),
            originator_version=cls.INITIAL_VERSION,
            timestamp=recorded.create_timestamp(),
            originator_topic=USAGE_TOPIC,
            **fields,
        )


USAGE_TOPIC = get_topic(Usage)


def rerated_event(key: UUID, version: int, **fields: Any) -> Any:
    """The Rerated event for the usage aggregate `key` at `version` (its next
    version), built without loading the aggregate: re-rating reads the usage
    and its latest rating from the read model. The event store's unique key
    refuses it if the aggregate moved on meanwhile."""
    rerated: Any = Usage.Rerated  # type: ignore[attr-defined]
    return rerated(originator_id=key, originator_version=version, timestamp=rerated.create_timestamp(), **fields)


def unpriced_event(key: UUID, version: int, **fields: Any) -> Any:
    """The Unpriced event for the usage aggregate `key` at `version`, built
    like rerated_event() and refused the same way if the aggregate moved on."""
    unpriced: Any = Usage.Unpriced  # type: ignore[attr-defined]
    return unpriced(originator_id=key, originator_version=version, timestamp=unpriced.create_timestamp(), **fields)


@dataclass(frozen=True)
class RecordedUsage:
    """A usage event as recorded, with its latest rating's amounts (None when
    unpriced): what what-if simulations and re-rating read. `account` is the
    customer account its charge was last posted to (kept while unpriced)."""

    customer: str
    event_id: str
    occurred_at: datetime
    provider: str
    model: str
    feature: str | None
    usage: dict[str, int]
    cost: Decimal | None
    charge: Decimal | None
    key: UUID | None = None
    version: int = 1
    price_version: int | None = None
    plan_version: int | None = None
    account: str | None = None
    tiered: bool = False
    currency: str | None = None
