"""Caller-chosen ids and the deterministic aggregate ids derived from them.

Idempotency is by construction: the same caller id always maps to the same
aggregate id, so the event store's unique key refuses a second creation."""

from __future__ import annotations

import re
from uuid import UUID, uuid5

from domain.invariants import require

CALLER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A fixed namespace: changing it would orphan every stored aggregate.
TALLY_NAMESPACE = UUID("6f1d2a4e-3c1b-5e7a-9d2f-7a3b1c0e5d41")


def is_caller_id(text: str) -> bool:
    return bool(CALLER_ID_PATTERN.match(text))


def aggregate_id(kind: str, *parts: str) -> UUID:
    """A stable UUID for (kind, parts). Parts are caller ids, which cannot
    contain '/', so the joined name is unambiguous."""
    require(parts, "an aggregate id needs at least one caller id")
    require(all("/" not in part for part in parts), parts)
    return uuid5(TALLY_NAMESPACE, "/".join((kind, *parts)))
