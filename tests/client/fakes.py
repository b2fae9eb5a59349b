"""Small local HTTP servers for the client's tests: a fake model provider
speaking the OpenAI and Anthropic wire formats (plain and server-sent
events), and a proxy that drops the connection after tally answered."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 350,
    "total_tokens": 1550,
    "prompt_tokens_details": {"cached_tokens": 200},
}
ANTHROPIC_USAGE = {
    "input_tokens": 1000,
    "output_tokens": 300,
    "cache_read_input_tokens": 0,
    "cache_creation_input_tokens": 0,
}


class FakeProvider:
    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.fixed_id: str | None = None  # answer every call with this id
        self.requests: list[dict[str, Any]] = []
        self.anthropic_usage: dict[str, int] = ANTHROPIC_USAGE  # what every Anthropic answer reports

    def next_id(self, prefix: str) -> str:
        return self.fixed_id or f"{prefix}{next(self.counter):06d}"

    def openai(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
        answer_id, model = self.next_id("chatcmpl-"), body["model"]
        base = {"id": answer_id, "created": 1764435600, "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "Hello."}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return {**base, "object": "chat.completion", "choices": [choice], "usage": OPENAI_USAGE}, []
        chunk = {**base, "object": "chat.completion.chunk"}
        events = [
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}], "usage": None},
            {**chunk, "choices": [{"index": 0, "delta": {"content": "lo."}, "finish_reason": "stop"}], "usage": None},
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": OPENAI_USAGE})
        return None, [f"data: {json.dumps(event)}\n\n" for event in events] + ["data: [DONE]\n\n"]

    def anthropic(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
        answer_id, model = self.next_id("msg_"), body["model"]
        message = {"id": answer_id, "type": "message", "role": "assistant", "model": model, "stop_sequence": None}
        if not body.get("stream"):
            content = [{"type": "text", "text": "Hello."}]
            return {**message, "content": content, "stop_reason": "end_turn", "usage": self.anthropic_usage}, []
        start_usage = {**self.anthropic_usage, "output_tokens": 1}
        events = [
            ("message_start", {"message": {**message, "content": [], "stop_reason": None, "usage": start_usage}}),
            ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hello."}}),
            ("content_block_stop", {"index": 0}),
            (
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": self.anthropic_usage["output_tokens"]},
                },
            ),
            ("message_stop", {}),
        ]
        return None, [f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n" for kind, data in events]


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def fake_provider() -> Iterator[tuple[FakeProvider, str]]:
    provider = FakeProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            provider.requests.append({"path": self.path, **body})
            answer, events = provider.openai(body) if "chat/completions" in self.path else provider.anthropic(body)
            if answer is not None:
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for event in events:
                self.wfile.write(event.encode())
                self.wfile.flush()

        def log_message(self, *args: Any) -> None:
            pass

    server, base = _serve(Handler)
    try:
        yield provider, base
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def dropping_proxy(upstream: str, drops: int) -> Iterator[tuple[dict[str, int], str]]:
    """Forwards to tally; the first `drops` usage batches reach tally and are
    recorded, but the connection is closed before the answer comes back."""
    state = {"drops_left": drops, "dropped": 0, "forwarded": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            answer = httpx.request(self.command, upstream + self.path, content=body, headers=headers, timeout=30)
            with lock:
                state["forwarded"] += 1
                drop = self.command == "POST" and self.path == "/v1/events" and state["drops_left"] > 0
                if drop:
                    state["drops_left"] -= 1
                    state["dropped"] += 1
            if drop:
                self.close_connection = True  # tally recorded the batch; its answer is lost on the way
                return
            self.send_response(answer.status_code)
            for key in ("content-type",):
                if key in answer.headers:
                    self.send_header(key, answer.headers[key])
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = _forward  # noqa: N815 (http.server names its handlers so)

        def log_message(self, *args: Any) -> None:
            pass

    server, base = _serve(Handler)
    try:
        yield state, base
    finally:
        server.shutdown()
        server.server_close()
