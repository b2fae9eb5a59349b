"""Scoped operator keys: issued and revoked as events in the one log, and
checked against an in-memory copy of the keys that follows that log.

The copy catches up to the log's head before every check (one cheap query
when nothing changed), as the customers' read keys do (application/
reference.py): so a key revoked through any server process is refused by
every other at its next request."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from application.customers import key_hash
from application.errors import NotFound, ValidationFailed
from application.event_store import EventStore
from domain.identifiers import is_caller_id
from domain.operator_key import SCOPES, OperatorKey, OperatorKeyIssued, OperatorKeyRevoked

# Operator keys start with their own prefix (customer keys start "tk_"), so a
# request's key is looked up in one place only.
KEY_PREFIX = "tok_"
TOPICS = [get_topic(OperatorKeyIssued), get_topic(OperatorKeyRevoked)]
PAGE_SIZE = 500
MAX_LIVE_KEYS = 1000  # a limit on everything: keys are few; a runaway script is refused


@dataclass(frozen=True)
class IssuedOperatorKey:
    id: str
    key: str
    scopes: list[str]
    created_at: str


@dataclass(frozen=True)
class OperatorKeyView:
    id: str
    scopes: list[str]
    created_at: str


class OperatorKeys:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._position = 0
        self._lock = threading.Lock()
        self._live: dict[str, OperatorKey] = {}  # key id → key, revoked ones removed
        self._by_hash: dict[str, str] = {}  # key hash → key id

    def issue(self, scopes: list[str]) -> IssuedOperatorKey:
        wanted = _checked_scopes(scopes)
        self.refresh()
        if len(self._live) >= MAX_LIVE_KEYS:
            raise ValidationFailed(
                f"at most {MAX_LIVE_KEYS} operator keys may be live; revoke some first",
                [{"loc": "scopes", "msg": "too many keys"}],
            )
        key_id, key = "okey_" + secrets.token_hex(8), KEY_PREFIX + secrets.token_urlsafe(32)
        created = OperatorKey(key_id, key_hash(key), wanted)
        self._store.save(created)
        return IssuedOperatorKey(key_id, key, wanted, created.created_on.isoformat())

    def revoke(self, key_id: str) -> None:
        try:
            key: OperatorKey | None = (
                self._store.repository.get(OperatorKey.create_id(key_id)) if is_caller_id(key_id) else None
            )
        except AggregateNotFoundError:
            key = None
        if key is None or key.revoked:
            raise NotFound(f"api key {key_id!r} does not exist")
        key.revoke()
        try:
            self._store.save(key)
        except IntegrityError:  # revoked meanwhile through another request: the only change a key has
            raise NotFound(f"api key {key_id!r} does not exist") from None

    def scopes_for(self, key: str) -> frozenset[str] | None:
        """The scopes of a live operator key, or None for any other key."""
        if not key.startswith(KEY_PREFIX):
            return None
        self.refresh()
        key_id = self._by_hash.get(key_hash(key))
        found = self._live.get(key_id) if key_id else None
        return frozenset(found.scopes) if found else None

    def listed(self) -> list[OperatorKeyView]:
        self.refresh()
        return [
            OperatorKeyView(key.key_id, list(key.scopes), key.created_on.isoformat())
            for key in sorted(self._live.values(), key=lambda key: (key.created_on, key.key_id))
        ]

    def refresh(self) -> None:
        with self._lock:
            head = self._store.head()
            while self._position < head:
                page = self._store.read(self._position, PAGE_SIZE, TOPICS, stop=head)
                for originator_id in {event.originator_id for _, event in page}:
                    self._load(UUID(str(originator_id)))
                self._position = head if len(page) < PAGE_SIZE else page[-1][0]

    def _load(self, originator_id: UUID) -> None:
        key: OperatorKey = self._store.repository.get(originator_id)
        if key.revoked:
            self._live.pop(key.key_id, None)
            self._by_hash.pop(key.key_hash, None)
        else:
            self._live[key.key_id] = key
            self._by_hash[key.key_hash] = key.key_id


def _checked_scopes(scopes: list[str]) -> list[str]:
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not scopes or unknown:
        raise ValidationFailed(
            f"scopes must name at least one of {', '.join(SCOPES)}",
            [{"loc": "scopes", "msg": f"unknown scope {unknown[0]!r}" if unknown else "empty"}],
        )
    return sorted(set(scopes), key=SCOPES.index)
