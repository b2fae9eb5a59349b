"""The server's log lines: the text format writes what logging's own
formatter writes, its time made once a second; the JSON format carries a
record's fields as keys of their own."""

from __future__ import annotations

import json
import logging

import pytest

from interfaces.observability.logs import TEXT_FORMAT, JsonFormatter, TextFormatter


def record_at(
    created: float, message: str = "GET /v1/x 200 %s", args: tuple[object, ...] = ("1.0ms",)
) -> logging.LogRecord:
    record = logging.LogRecord("tally.request", logging.INFO, __file__, 1, message, args, None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    return record


@pytest.mark.parametrize("created", [1764480000.0, 1764480000.0429, 1764480000.9995, 1764480001.5, 86399.25])
def test_the_text_line_is_loggings_own(created: float) -> None:
    assert TextFormatter().format(record_at(created)) == logging.Formatter(TEXT_FORMAT).format(record_at(created))


def test_the_second_is_made_again_when_it_changes() -> None:
    formatter, standard = TextFormatter(), logging.Formatter(TEXT_FORMAT)
    for created in (1764480000.1, 1764480000.9, 1764480001.0, 1764480061.2, 1764480000.5):  # back in time too
        assert formatter.format(record_at(created)) == standard.format(record_at(created))


def test_a_json_line_carries_the_records_fields() -> None:
    record = record_at(1764480000.5)
    record.fields = {"route": "/v1/x", "status": 200, "message": "not over the message"}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /v1/x 200 1.0ms"
    assert (line["route"], line["status"], line["level"], line["logger"]) == ("/v1/x", 200, "info", "tally.request")
    assert line["time"].startswith("2025-11-30T05:20:00.500")
