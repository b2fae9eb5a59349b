from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from application.event_limits import MAX_METADATA_BYTES, _size_bound, _walk, canonical_json, metadata_problem
from application.usage_input import Rejection, UsageInput, parse_usage
from tests.support import NOW, event


def rejection(raw: Any) -> Rejection:
    parsed = parse_usage(raw, NOW)
    assert isinstance(parsed, Rejection), parsed
    return parsed


def test_a_good_event_parses_with_a_fingerprint_of_its_body() -> None:
    parsed = parse_usage(event("e1"), NOW)
    assert isinstance(parsed, UsageInput)
    same = parse_usage({**event("e1"), "timestamp": "2026-11-26T17:00:01+00:00"}, NOW)
    other = parse_usage({**event("e1"), "model": "gpt-4o-mini"}, NOW)
    assert isinstance(same, UsageInput)
    assert isinstance(other, UsageInput)
    assert parsed.fingerprint == same.fingerprint != other.fingerprint


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"usage": {"input_tokens": -1}}, "usage.input_tokens"),
        ({"usage": {"input_tokens": 1.5}}, "usage.input_tokens"),
        ({"usage": {"input_tokens": True}}, "usage.input_tokens"),
        ({"usage": {"input_tokens": "12"}}, "usage.input_tokens"),
        ({"usage": {"tokens": 12}}, "usage.tokens"),
        ({"usage": {}}, "usage"),
        ({"timestamp": "2026-11-26T18:05:01Z"}, "timestamp"),
        ({"timestamp": "2026-11-26T17:00:01"}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),
        ({"timestamp": "1999-12-31T23:59:59Z"}, "timestamp"),
        ({"customer": "a/b"}, "customer"),
        ({"model": ""}, "model"),
        ({"colour": "blue"}, "colour"),
        ({"metadata": ["x"]}, "metadata"),
    ],
)
def test_bad_events_are_rejected_with_where_and_why(change: dict[str, Any], loc: str) -> None:
    found = rejection({**event("e1"), **change})
    assert found.code == "validation_error"
    assert found.loc == loc
    assert found.detail


def test_an_event_exactly_five_minutes_ahead_is_accepted() -> None:
    assert isinstance(parse_usage({**event("e1"), "timestamp": "2026-11-26T18:05:00Z"}, NOW), UsageInput)


@pytest.mark.parametrize("raw", [None, [], "x", {"id": "has space"}, {"id": "x" * 129}, {}])
def test_events_without_a_usable_id_are_rejected(raw: Any) -> None:
    assert rejection(raw).code == "validation_error"


json_text = st.sampled_from(["\ud800", "x\udfff", "_type_", "_data_", "é", "\x00", "🎉"]) | st.text(max_size=12)
metadata_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | json_text,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(json_text, inner, max_size=6)
        | st.fixed_dictionaries({"_type_": inner, "_data_": inner})
    ),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None)
@example(metadata={"k": "\x00" * 2048, "l": "\x00" * 2048, "m": "\x00" * 2048}, depth=0)  # 6 bytes a character
@example(metadata={"k": [1.2345678901234567e-300] * 10, "l": [-(2**200), True, None]}, depth=0)
@given(metadata=st.dictionaries(json_text, metadata_values, max_size=8), depth=st.integers(0, 20))
def test_the_fast_size_bound_never_lets_through_what_the_full_walk_refuses(
    metadata: dict[str, Any], depth: int
) -> None:
    for _ in range(depth):
        metadata = {"k": metadata}
    bound = _size_bound(metadata)
    walked = _walk(metadata)
    if bound is not None:
        assert walked is None, walked
        assert len(canonical_json(metadata).encode()) <= bound
    expected = walked is None and len(canonical_json(metadata).encode()) <= MAX_METADATA_BYTES
    assert (metadata_problem(metadata) is None) == expected
