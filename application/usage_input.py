"""Parsing one usage event from the caller. A bad event becomes a Rejection
with a code and a detail a person can act on; it never spoils its batch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from application.errors import ValidationFailed
from application.event_limits import brief, is_valid_text, metadata_problem, shown_name, text_problem
from domain.identifiers import is_caller_id
from domain.pricing import UNITS
from domain.provider_usage import ProviderUsageError, map_usage
from domain.usage import fingerprint

MAX_FUTURE = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_QUANTITY = 10**15
MAX_NAME_LENGTH = 200
REQUIRED_FIELDS = ("id", "customer", "timestamp", "provider", "model", "usage")
OPTIONAL_FIELDS = ("feature", "authorization_id", "metadata", "usage_format")
ALLOWED_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)
# Where an event sent in a provider's usage format keeps the object as sent.
PROVIDER_USAGE_KEY = "provider_usage"


@dataclass(frozen=True)
class UsageInput:
    id: str
    customer: str
    occurred_at: datetime
    provider: str
    model: str
    feature: str | None
    usage: dict[str, int]
    authorization_id: str | None
    metadata: dict[str, Any]
    fingerprint: str


@dataclass(frozen=True)
class Rejection:
    id: str | None
    code: str
    detail: str
    loc: str | None = None


@dataclass(frozen=True)
class Unreadable:
    """An event the edge could not read (nested too deeply for its JSON
    parser): it stands in the batch so that the others are answered."""

    detail: str


def parse_usage(raw: object, now: datetime) -> UsageInput | Rejection:
    if isinstance(raw, Unreadable):
        return Rejection(None, "validation_error", raw.detail)
    if not isinstance(raw, Mapping):
        return Rejection(None, "validation_error", f"each event must be a JSON object, got {brief(raw)}")
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not is_caller_id(event_id):
        return Rejection(None, "validation_error", "id must be 1-128 characters of [A-Za-z0-9._:-]", "id")
    if raw.get("usage_format") is not None:
        native = _from_provider_usage(raw)
        if isinstance(native, Rejection):
            return native
        raw = native
    problem, occurred_at = _shape_problem(raw, now)
    if problem is not None:
        loc, detail = problem
        return Rejection(event_id, "validation_error", detail, loc)
    assert occurred_at is not None
    usage = {unit: int(quantity) for unit, quantity in sorted(raw["usage"].items())}
    body = {
        "customer": raw["customer"],
        "timestamp": occurred_at.isoformat(),
        "provider": raw["provider"],
        "model": raw["model"],
        "feature": raw.get("feature"),
        "usage": usage,
        "authorization_id": raw.get("authorization_id"),
        "metadata": raw.get("metadata") or {},
    }
    return UsageInput(
        id=event_id,
        customer=raw["customer"],
        occurred_at=occurred_at,
        provider=raw["provider"],
        model=raw["model"],
        feature=raw.get("feature"),
        usage=usage,
        authorization_id=raw.get("authorization_id"),
        metadata=dict(raw.get("metadata") or {}),
        fingerprint=fingerprint(body),
    )


def _from_provider_usage(raw: Mapping[str, Any]) -> Mapping[str, Any] | Rejection:
    """The event with its provider usage object mapped onto tally's units; the
    format and the object as sent are kept in metadata, under
    PROVIDER_USAGE_KEY, for an auditor (and in the fingerprint: a retry
    sends the same object)."""
    event_id = raw["id"]
    try:
        usage = map_usage(raw["usage_format"], raw.get("usage"))
    except ProviderUsageError as error:
        return Rejection(event_id, "validation_error", error.detail, error.loc)
    metadata = raw.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        return Rejection(
            event_id, "validation_error", f"metadata must be a JSON object, got {brief(metadata)}", "metadata"
        )
    if metadata is not None and PROVIDER_USAGE_KEY in metadata:
        detail = f"metadata.{PROVIDER_USAGE_KEY} is where tally keeps the usage object of an event with usage_format"
        return Rejection(event_id, "validation_error", detail, f"metadata.{PROVIDER_USAGE_KEY}")
    kept = {"format": raw["usage_format"], "usage": raw["usage"]}
    native = {name: value for name, value in raw.items() if name != "usage_format"}
    return {**native, "usage": usage, "metadata": {**(metadata or {}), PROVIDER_USAGE_KEY: kept}}


def _shape_problem(raw: Mapping[str, Any], now: datetime) -> tuple[tuple[str, str] | None, datetime | None]:
    """The first problem of the event's shape, or None with its moment."""
    problem = _text_problem(raw)
    if problem is not None:
        return problem, None
    if not ALLOWED_FIELDS.issuperset(raw):
        unknown = sorted(set(raw) - ALLOWED_FIELDS)
        allowed = ", ".join(REQUIRED_FIELDS + OPTIONAL_FIELDS)
        return (shown_name(unknown[0]), f"unknown field {brief(unknown[0])}; allowed: {allowed}"), None
    missing = [name for name in REQUIRED_FIELDS if raw.get(name) is None]
    if missing:
        return (missing[0], f"{missing[0]} is required"), None
    if not isinstance(raw["customer"], str) or not is_caller_id(raw["customer"]):
        return ("customer", "customer must be a customer id"), None
    occurred_at = _parse_time(raw["timestamp"])
    if occurred_at is None:
        return ("timestamp", "timestamp must be RFC 3339 with an offset, e.g. 2026-11-26T17:00:01Z"), None
    if occurred_at > now + MAX_FUTURE:
        return ("timestamp", "timestamp is more than 5 minutes in the future"), None
    if occurred_at < EARLIEST:
        return ("timestamp", f"timestamp is before {EARLIEST.date().isoformat()}"), None
    return _fields_problem(raw), occurred_at


def _fields_problem(raw: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first problem of the fields checked after the moment, or None."""
    for name in ("provider", "model"):
        if not _is_name(raw[name]):
            return name, f"{name} must be a non-empty string of at most {MAX_NAME_LENGTH} characters"
    for name in ("feature",):
        if raw.get(name) is not None and not _is_name(raw[name]):
            return name, f"{name} must be a non-empty string of at most {MAX_NAME_LENGTH} characters"
    authorization_id = raw.get("authorization_id")
    if authorization_id is not None and (not isinstance(authorization_id, str) or not is_caller_id(authorization_id)):
        return "authorization_id", "authorization_id must be an authorization id"
    problem = _usage_problem(raw["usage"])
    if problem is None and raw.get("metadata") is not None:
        return metadata_problem(raw["metadata"])
    return problem


def _text_problem(raw: Mapping[str, Any]) -> tuple[str, str] | None:
    """Field names, units and string fields must be valid Unicode: details and
    locations repeat them, and the event store keeps them as UTF-8."""
    usage = raw.get("usage")
    names = [*raw, *(usage if isinstance(usage, Mapping) else ())]
    if not all(isinstance(name, str) for name in names):
        return "event", "field names and units must be text"
    texts = [value for value in raw.values() if isinstance(value, str)]
    if is_valid_text("".join(names + texts)):  # the usual case, checked at once
        return None
    if not all(is_valid_text(name) for name in names):
        return "event", "field names and units must be valid Unicode text; one holds a lone surrogate"
    for name, value in raw.items():
        problem = text_problem(shown_name(name), value) if isinstance(value, str) else None
        if problem is not None:
            return problem
    return None


def estimate_usage(usage: object) -> dict[str, int]:
    """The unit counts of an authorization's estimate, checked like an event's."""
    problem = _usage_problem(usage)
    if problem is not None:
        raise ValidationFailed(problem[1], [{"loc": f"estimate.{problem[0]}", "msg": "invalid"}])
    assert isinstance(usage, Mapping)
    return {str(unit): int(quantity) for unit, quantity in usage.items()}


def _usage_problem(usage: object) -> tuple[str, str] | None:
    if not isinstance(usage, Mapping) or not usage:
        return "usage", "usage must be a non-empty object of unit counts"
    for unit, quantity in usage.items():
        if unit not in UNITS:
            return f"usage.{shown_name(unit)}", f"unknown unit {brief(unit)}; known units: {', '.join(sorted(UNITS))}"
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            return f"usage.{unit}", f"{unit} must be a whole number, got {brief(quantity)}"
        if quantity < 0:
            return f"usage.{unit}", f"{unit} must not be negative, got {quantity}"
        if quantity > MAX_QUANTITY:
            return f"usage.{unit}", f"{unit} is over the limit of {MAX_QUANTITY}"
    return None


def _is_name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH and value.isprintable()


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None
