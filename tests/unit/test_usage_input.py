from typing import Any

import pytest

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
