"""What a provider's streamed answer (server-sent events) says about its usage.

The stream is cut into whole events as bytes arrive, each passed on as it
completes; the usage is read from the events that carry it: OpenAI Chat's
last chunk (asked for with stream_options.include_usage), the Responses
API's response.completed, and Anthropic's message_start (input and cache
counts) updated by message_delta (the output count so far). Pure: bytes in,
events and figures out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
# A provider's event is small; a longer run without an event's end is not
# server-sent events, and is passed on as it is rather than kept.
MAX_PENDING_BYTES = 4 * 1024 * 1024
RESPONSES_FINAL = ("response.completed", "response.incomplete", "response.failed")


@dataclass
class SseSplitter:
    """Whole events out of arbitrary chunks of bytes."""

    pending: bytes = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self.pending + chunk
        events = []
        start = 0
        for match in EVENT_END.finditer(data):
            events.append(data[start : match.end()])
            start = match.end()
        self.pending = data[start:]
        if len(self.pending) > MAX_PENDING_BYTES:  # not an event stream after all: do not hold it back
            events.append(self.pending)
            self.pending = b""
        return events

    def rest(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest


def event_data(event: bytes) -> Any:
    """The JSON of an event's data lines, or None (no data, [DONE], not JSON)."""
    lines = event.decode("utf-8", errors="replace").splitlines()
    data = "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))
    if not data or data.strip() == "[DONE]":
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


@dataclass
class StreamUsage:
    """The usage and response id a stream has reported so far."""

    provider: str
    response_id: str | None = None
    usage: dict[str, Any] | None = None
    response_model: str | None = None

    def read(self, event: bytes) -> bool:
        """Reads one whole event; True when it is OpenAI Chat's usage-only
        chunk (which a client that did not ask for usage does not get)."""
        data = event_data(event)
        if not isinstance(data, dict):
            return False
        if self.provider == "anthropic":
            self._anthropic(data)
            return False
        return self._openai(data)

    def _openai(self, data: dict[str, Any]) -> bool:
        kind = data.get("type")
        if isinstance(kind, str) and kind.startswith("response."):  # the Responses API
            response = data.get("response")
            if isinstance(response, dict):
                self._note_id(response.get("id"), response.get("model"))
                if kind in RESPONSES_FINAL and isinstance(response.get("usage"), dict):
                    self.usage = response["usage"]
            return False
        self._note_id(data.get("id"), data.get("model"))
        usage = data.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
            return data.get("choices") == []
        return False

    def _anthropic(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "message_start" and isinstance(data.get("message"), dict):
            message = data["message"]
            self._note_id(message.get("id"), message.get("model"))
            if isinstance(message.get("usage"), dict):
                self.usage = dict(message["usage"])
        elif kind == "message_delta" and isinstance(data.get("usage"), dict):
            # counts in a delta are cumulative; a null count leaves the one before
            reported = {name: value for name, value in data["usage"].items() if value is not None}
            self.usage = {**(self.usage or {}), **reported}

    def _note_id(self, response_id: object, model: object) -> None:
        if self.response_id is None and isinstance(response_id, str) and response_id:
            self.response_id = response_id
        if self.response_model is None and isinstance(model, str) and model:
            self.response_model = model
