"""Reading the body of POST /v1/events: JSON with one bad event never
spoiling the others, even when the bad event is nested so deeply that the
standard library's parser (which recurses once per level) gives up on the
whole body.

The whole body is parsed at once first. Only when that runs out of
recursion is it read again member by member and event by event: each event
is parsed on its own, and one that is still too deep is skipped by a scan
that counts brackets without recursing, and answered as Unreadable."""

from __future__ import annotations

import json
import re
from typing import Any

from application.usage_input import Unreadable

WHITESPACE = re.compile(r"[ \t\n\r]*")
# A string (with its escapes) or a bracket: what a scan for a value's end needs.
# Possessive, and an unterminated string runs to the end: the scan stays linear
# in the body's length whatever the body holds.
STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
TOO_DEEP = "the event is nested too deeply to be read; metadata may nest at most 16 levels"


class NotJson(ValueError):
    pass


class BodyTooDeep(Exception):
    """Nested too deeply outside the events: no event can be told apart."""


def _not_json(constant: str) -> None:
    raise NotJson(f"{constant} is not JSON")


DECODER = json.JSONDecoder(parse_constant=_not_json)


def parse_body(raw: bytes) -> Any:
    """The body as JSON; events of the `events` array that are too deep to
    parse become Unreadable. Raises ValueError when the body is not JSON, and
    BodyTooDeep when it is too deep outside its events."""
    text = raw.decode("utf-8")
    try:
        return DECODER.decode(text)
    except RecursionError:
        return _object_member_by_member(text)


def _object_member_by_member(text: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if not text.startswith("{", _skip(text, 0)):
        raise BodyTooDeep("the body is not an object of events")
    index = _skip(text, _skip(text, 0) + 1)
    if text.startswith("}", index):
        _expect_end(text, index + 1)
        return body
    while True:
        key, index = DECODER.raw_decode(text, index)
        if not isinstance(key, str):
            raise NotJson("an object's keys are strings")
        index = _skip(text, _expect(text, _skip(text, index), ":"))
        if key == "events" and text.startswith("[", index):
            body[key], index = _events_one_by_one(text, index)
        else:
            body[key], index = _member(text, index)
        index = _skip(text, index)
        if text.startswith("}", index):
            _expect_end(text, index + 1)
            return body
        index = _skip(text, _expect(text, index, ","))


def _member(text: str, index: int) -> tuple[Any, int]:
    try:
        return DECODER.raw_decode(text, index)
    except RecursionError:
        raise BodyTooDeep("a member of the body other than its events") from None


def _events_one_by_one(text: str, start: int) -> tuple[list[Any], int]:
    events: list[Any] = []
    index = _skip(text, start + 1)
    if text.startswith("]", index):
        return events, index + 1
    while True:
        try:
            event, index = DECODER.raw_decode(text, index)
        except RecursionError:
            event, index = Unreadable(TOO_DEEP), _end_of_value(text, index)
        events.append(event)
        index = _skip(text, index)
        if text.startswith("]", index):
            return events, index + 1
        index = _skip(text, _expect(text, index, ","))


def _end_of_value(text: str, start: int) -> int:
    """Where the object or array at `start` ends, found by counting brackets
    outside strings: no recursion, however deep it nests."""
    depth = 0
    for match in STRING_OR_BRACKET.finditer(text, start):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
        elif bracket in "]}":
            depth -= 1
            if depth == 0:
                return match.end()
    raise NotJson("a value in the body never ends")


def _skip(text: str, index: int) -> int:
    found = WHITESPACE.match(text, index)
    assert found is not None, "whitespace matches the empty string"
    return found.end()


def _expect(text: str, index: int, token: str) -> int:
    if not text.startswith(token, index):
        raise NotJson(f"expected {token!r} at character {index}")
    return index + 1


def _expect_end(text: str, index: int) -> None:
    if _skip(text, index) != len(text):
        raise NotJson("extra data after the body")
