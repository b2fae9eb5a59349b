"""The event store's transcoder on orjson reads and writes what the library's
JSONTranscoder does: the same values back from either's bytes, and a caller's
object shaped like a transcoded value left as it was sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from application.stored_values import StoredValuesTranscoder


class Level(IntEnum):
    LOW = 1


class LibraryTolerant(JSONTranscoder):
    """The library's JSON codec, with this store's tolerance of caller objects: what it read and wrote before orjson."""

    _decode_obj = StoredValuesTranscoder._decode_obj


def transcoders() -> tuple[StoredValuesTranscoder, JSONTranscoder]:
    ours, library = StoredValuesTranscoder(), LibraryTolerant()
    for transcoder in (ours, library):
        Application.register_transcodings(Application, transcoder)  # type: ignore[arg-type]
    return ours, library


SAMPLES: list[Any] = [
    {},
    {"a": 1, "b": "two", "c": None, "d": True, "e": 1.5, "f": [1, "x", None]},
    {
        "timestamp": datetime(2026, 11, 29, 12, 0, 1, 250, tzinfo=UTC),
        "occurred_at": datetime(2026, 11, 29, 13, 0, tzinfo=timezone(timedelta(hours=1))),
        "naive": datetime(2026, 1, 1),
        "id": uuid4(),
        "amount": Decimal("0.001574280000"),
        "nested": {"ids": (uuid4(), uuid4()), "deep": [{"at": datetime(2001, 2, 3, tzinfo=UTC)}]},
        "rating": {"entry": {"postings": [{"amount": "1.5", "debit": "a", "credit": "b", "currency": "USD"}]}},
    },
    {"metadata": {"x": {"_type_": "nope", "_data_": 1}}},
    {"metadata": {"_type_": "decimal_str", "_data_": "not a number"}},
    {"metadata": {"_type_": "uuid_hex", "_data_": 5}},
    {"metadata": {"_type_": "datetime_iso", "_data_": ["2026"]}},
    {"metadata": {"_type_": "decimal_str", "_data_": "1.25"}, "at": datetime(2026, 1, 1, tzinfo=UTC)},
    {"metadata": {"text": "_type_ in a value", "é": "naïve ✓", "emoji": "\U0001f600"}},
    {"big": 2**70, "negative": -(2**64), "nan": float("nan"), "inf": float("-inf")},
    {"keys": {1: "one", 2.5: "x", None: "n", False: "f"}},
    {"enum": Level.LOW, "tuple": (1, (2, 3))},
    [datetime(2026, 1, 1, tzinfo=UTC), {"_type_": "uuid_hex", "_data_": uuid4().hex}],
]


def same(left: Any, right: Any) -> bool:
    """Equal, NaN equal to NaN, and of the same types throughout."""
    if isinstance(left, float) and isinstance(right, float) and left != left:
        return right != right
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


@pytest.mark.parametrize("value", SAMPLES)
def test_either_transcoder_reads_the_others_bytes_as_the_same_values(value: Any) -> None:
    ours, library = transcoders()
    expected = library.decode(library.encode(value))
    assert same(ours.decode(ours.encode(value)), expected)
    assert same(ours.decode(library.encode(value)), expected)
    assert same(library.decode(ours.encode(value)), expected)


def test_bytes_written_by_other_json_writers_decode_alike() -> None:
    ours, library = transcoders()
    state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-20T00:00:00+00:00"},
        "name": "Acmé",
        "inner": {"id": {"_type_": "uuid_hex", "_data_": UUID(int=7).hex}},
    }
    for data in (json.dumps(state).encode(), json.dumps(state, indent=2, ensure_ascii=True).encode()):
        assert same(ours.decode(data), library.decode(data))
    escaped = b'{"a":{"\\u005ftype_":"decimal_str","_data_":"2"},"b":{"_type_":"decimal_str","_data_":"3"}}'
    assert ours.decode(escaped) == {"a": Decimal(2), "b": Decimal(3)} == library.decode(escaped)
    assert ours.decode(b'{"x": NaN}')["x"] != ours.decode(b'{"x": NaN}')["x"]


def test_a_type_without_a_transcoding_is_refused_as_the_library_refuses_it() -> None:
    ours, _library = transcoders()
    with pytest.raises(TranscodingNotRegisteredError):
        ours.encode({"x": object()})
    with pytest.raises(UnicodeEncodeError):
        ours.encode({"x": "\ud800"})
