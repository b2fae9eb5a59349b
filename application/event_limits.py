"""What a usage event's text and metadata may be: valid Unicode, and metadata
of bounded depth, key count, size and string length.

The limits keep one event from costing the others: a lone surrogate cannot be
stored as UTF-8, deep nesting exhausts the recursion of the JSON encoders that
store and answer it, and an object whose only keys are the event store's own
`_type_` and `_data_` would be decoded as a stored value, not read back as
sent. An event beyond them is rejected on its own, before anything is written.
The walk below is iterative, so no input can exhaust the stack here either."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

# Levels of objects and arrays inside one another, metadata itself the first.
MAX_METADATA_DEPTH = 16
# Deeper stored metadata is withheld when an event is read: the response
# serialiser gives up near 255 levels, so this keeps well clear of it.
MAX_ANSWERED_DEPTH = 128
# Keys of every object in the metadata, nested ones included.
MAX_METADATA_KEYS = 256
# UTF-8 bytes of the metadata's canonical JSON (sorted keys, no spaces).
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_KEY_LENGTH = 128
MAX_METADATA_TEXT_LENGTH = 2048
# The event store writes values it transcodes (a Decimal, a UUID) as an object
# with exactly these keys, and reads any such object back as that value.
RESERVED_KEYS = frozenset({"_type_", "_data_"})
SHOWN_LENGTH = 40

Problem = tuple[str, str]  # (where, what a person can do about it)


def is_valid_text(text: str) -> bool:
    """Whether the text is valid Unicode: UTF-8 can hold it (JSON's escapes can
    carry a lone surrogate, which no stored or answered text may)."""
    if text.isascii():  # the usual case, answered without encoding
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def brief(value: object) -> str:
    """A short, valid-Unicode rendering of a caller's value for a detail
    message: never the whole of a large or deep value."""
    if isinstance(value, Mapping):
        return f"an object of {len(value)} keys"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    shown = repr(value)  # repr escapes lone surrogates and control characters
    if len(shown) > SHOWN_LENGTH:
        return shown[: SHOWN_LENGTH - 3] + "..."
    return shown


def shown_name(name: str) -> str:
    """A caller's field or unit name as a location: itself when it is valid
    text, cut short."""
    if not is_valid_text(name):
        return brief(name)
    return name if len(name) <= SHOWN_LENGTH else name[: SHOWN_LENGTH - 3] + "..."


def text_problem(loc: str, text: str) -> Problem | None:
    if not is_valid_text(text):
        return loc, f"{loc} must be valid Unicode text; it holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"
    return None


def metadata_problem(metadata: object) -> Problem | None:
    """The first way the metadata breaks the limits, or None."""
    if not isinstance(metadata, Mapping):
        return "metadata", f"metadata must be a JSON object, got {brief(metadata)}"
    bound = _size_bound(metadata)
    if bound is None:  # something may be beyond a limit: the walk that names where
        problem = _walk(metadata)
        if problem is not None:
            return problem
    if bound is None or bound > MAX_METADATA_BYTES:
        size = len(canonical_json(metadata).encode("utf-8"))
        if size > MAX_METADATA_BYTES:
            return "metadata", f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES} are allowed"
    return None


def too_deep_to_answer(metadata: object) -> bool:
    """Whether stored metadata is nested too deeply to be answered as JSON
    (events recorded before the limits may hold such metadata)."""
    pending: list[tuple[object, int]] = [(metadata, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, Mapping | list):
            if depth > MAX_ANSWERED_DEPTH:
                return True
            items = value.values() if isinstance(value, Mapping) else value
            pending.extend((item, depth + 1) for item in items)
    return False


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _size_bound(metadata: Mapping[str, Any]) -> int | None:
    """The hot path: an upper bound of the metadata's canonical JSON in bytes
    (6 per character, the longest escape), or None as soon as anything may
    break a limit; then _walk finds what and where."""
    keys = bound = 0
    pending: list[tuple[object, int]] = [(metadata, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if len(value) > MAX_METADATA_TEXT_LENGTH or not is_valid_text(value):
                return None
            bound += 6 * len(value) + 3  # quotes and a comma
        elif isinstance(value, Mapping):
            keys += len(value)
            if depth > MAX_METADATA_DEPTH or keys > MAX_METADATA_KEYS or value.keys() == RESERVED_KEYS:
                return None
            bound += 2
            for key, item in value.items():
                if not isinstance(key, str) or len(key) > MAX_METADATA_KEY_LENGTH or not is_valid_text(key):
                    return None
                bound += 6 * len(key) + 4  # quotes, a colon and a comma
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_METADATA_DEPTH:
                return None
            bound += len(value) + 2
            pending.extend((item, depth + 1) for item in value)
        elif value is None or isinstance(value, bool):
            bound += 6
        elif isinstance(value, int):
            bound += value.bit_length() // 3 + 3  # digits, a sign and a comma
        elif isinstance(value, float) and math.isfinite(value):
            bound += 26  # the longest repr of a float, and a comma
        else:
            return None
    return bound


def _walk(metadata: Mapping[str, Any]) -> Problem | None:
    keys = 0
    pending: list[tuple[str, object, int]] = [("metadata", metadata, 1)]
    while pending:
        loc, value, depth = pending.pop()
        if isinstance(value, Mapping | list) and depth > MAX_METADATA_DEPTH:
            return loc, f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep (objects and arrays)"
        if isinstance(value, Mapping):
            keys += len(value)
            if keys > MAX_METADATA_KEYS:
                return loc, f"metadata has more than {MAX_METADATA_KEYS} keys in all, nested objects included"
            problem = _object_problem(loc, value)
            if problem is not None:
                return problem
            pending.extend((f"{loc}.{key}", item, depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{loc}[{index}]", item, depth + 1) for index, item in enumerate(value))
        else:
            problem = _scalar_problem(loc, value)
            if problem is not None:
                return problem
    return None


def _object_problem(loc: str, value: Mapping[str, Any]) -> Problem | None:
    if value.keys() == RESERVED_KEYS:
        return loc, "an object in metadata may not have only the keys _type_ and _data_ (reserved by the event store)"
    for key in value:
        if not isinstance(key, str) or not is_valid_text(key):
            return loc, f"the keys of {loc} must be valid Unicode text; one holds a lone surrogate"
        if len(key) > MAX_METADATA_KEY_LENGTH:
            return loc, f"a key of {loc} is {len(key)} characters long; at most {MAX_METADATA_KEY_LENGTH} are allowed"
    return None


def _scalar_problem(loc: str, value: object) -> Problem | None:
    if isinstance(value, str):
        if len(value) > MAX_METADATA_TEXT_LENGTH:
            return loc, f"{loc} is {len(value)} characters long; at most {MAX_METADATA_TEXT_LENGTH} are allowed"
        return text_problem(loc, value)
    if isinstance(value, float) and not math.isfinite(value):
        return loc, f"{loc} must be a finite number, got {brief(value)}"
    if value is None or isinstance(value, bool | int | float):
        return None
    return loc, f"{loc} must be a JSON value, got {brief(value)}"
