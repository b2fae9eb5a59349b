"""Logging for the server and the CLI: one handler on standard error, each
record a line of JSON (TALLY_LOG_FORMAT=json: for a log shipper) or of
text (text: for a person at a terminal). A record may carry `fields`, a
dict that JSON lines hold as keys of their own (the request line does)."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RESERVED = ("time", "level", "logger", "message")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({key: value for key, value in fields.items() if key not in RESERVED})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, its time written as logging.Formatter writes it
    (`2026-11-30 05:00:00,123`, local time), the part to the second made
    once a second rather than once a record: a server writes a line per
    request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._second_text},{int(record.msecs):03d}"  # logging's default_msec_format, "%s,%03d"


def configure_logging(log_format: str, level: str) -> None:
    """Replace the root logger's handlers with one on standard error.

    Neither format writes where a record was made (file, line, function),
    nor its thread or process: the logging module is told not to find
    them out for every record (its documented optimisations)."""
    logging._srcfile = None  # no sys._getframe walk per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a library's warning is a record too, not a bare line
