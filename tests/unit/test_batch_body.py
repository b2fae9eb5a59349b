"""Reading a batch body: an event nested too deeply for the JSON parser
stands as Unreadable in its place, and the other events are read."""

from __future__ import annotations

import json

import pytest

from application.usage_input import Unreadable
from interfaces.rest.batch_body import BodyTooDeep, parse_body

DEEP = '{"id": "deep", "metadata": {"k": ' + "[" * 5000 + '"]}[{\\""' + "]" * 5000 + "}}"
NOT_JSON = "(?i)expect|never ends|extra data|is not JSON|unterminated"
GOOD = {"id": "good", "metadata": {"text": 'brackets ] } [ { and "quotes" \\'}}


def test_a_body_the_parser_reads_whole_is_read_as_it_is() -> None:
    assert parse_body(json.dumps({"events": [GOOD]}).encode()) == {"events": [GOOD]}


@pytest.mark.parametrize("space", ["", " ", "\n\t "])
def test_an_event_too_deep_to_parse_stands_alone_in_its_place(space: str) -> None:
    good = json.dumps(GOOD)
    text = f'{space}{{{space}"events"{space}:{space}[{space}{good},{space}{DEEP}{space},{good}{space}]{space},{space}"x": 1}}'
    body = parse_body(text.encode())
    assert body["events"] == [GOOD, Unreadable(body["events"][1].detail), GOOD]
    assert "nested too deeply" in body["events"][1].detail
    assert body["x"] == 1


def test_a_batch_of_deep_events_only() -> None:
    events = parse_body(('{"events": [' + DEEP + "," + DEEP + "]}").encode())["events"]
    assert [type(event) for event in events] == [Unreadable, Unreadable]


@pytest.mark.parametrize(
    "text",
    [
        '{"events": [' + DEEP + "]",  # never closed
        '{"events": [' + DEEP + "]} trailing",
        '{"events": [' + DEEP + ", NaN]}",
        '{"events": [' + DEEP + " " + DEEP + "]}",  # no comma
        '{"events": [{"a": Infinity}]}',
        '{"events": [' + "[" * 5000,
    ],
)
def test_what_is_not_json_stays_not_json(text: str) -> None:
    with pytest.raises(ValueError, match=NOT_JSON):
        parse_body(text.encode())
    with pytest.raises(UnicodeDecodeError):
        parse_body(b"\xff" + text.encode())


def test_a_body_too_deep_outside_its_events_is_too_deep() -> None:
    with pytest.raises(BodyTooDeep):
        parse_body(("[" * 100_000 + "]" * 100_000).encode())
    with pytest.raises(BodyTooDeep):
        parse_body(('{"events": [], "other": ' + "[" * 5000 + "]" * 5000 + "}").encode())
