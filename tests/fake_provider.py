"""A local server speaking OpenAI's and Anthropic's wire formats, for the
gateway's tests: plain and streamed answers with cache tokens, errors, a
slow answer, a stream cut short, a stream that waits for the test.

What a call does is chosen by a word in its last message (`please fail`,
`please slow`, ...), so concurrent tests do not step on each other. Every
call it receives is counted and kept (path, headers, body)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.e2e.server import free_port

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 350,
    "total_tokens": 1550,
    "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 64},
}
RESPONSES_USAGE = {
    "input_tokens": 900,
    "input_tokens_details": {"cached_tokens": 100},
    "output_tokens": 70,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 970,
}
EMBEDDINGS_USAGE = {"prompt_tokens": 8, "total_tokens": 8}
ANTHROPIC_START_USAGE = {
    "input_tokens": 12,
    "cache_read_input_tokens": 3000,
    "cache_creation_input_tokens": 500,
    "output_tokens": 1,
}
ANTHROPIC_USAGE = {**ANTHROPIC_START_USAGE, "output_tokens": 40}
SLOW_SECONDS = 8.0
STREAM_PIECES = ["Hel", "lo", " the", "re"]


@dataclass
class FakeProvider:
    calls: list[dict[str, Any]] = field(default_factory=list)
    failed_once: set[str] = field(default_factory=set)
    released: dict[str, asyncio.Event] = field(default_factory=dict)
    ids: int = 0
    loop: asyncio.AbstractEventLoop | None = None

    def count(self, word: str | None = None) -> int:
        return sum(1 for call in self.calls if word is None or word in call["text"])

    def release(self, word: str) -> None:
        """Lets a `please hold <word>` stream go on."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._event(word).set)

    def _event(self, word: str) -> asyncio.Event:
        return self.released.setdefault(word, asyncio.Event())

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids:06d}"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/messages", self.messages, methods=["POST"]),
            ]
        )

    async def _take(self, request: Request) -> tuple[dict[str, Any], str]:
        self.loop = asyncio.get_running_loop()
        body = await request.json()
        text = json.dumps(body.get("messages") or body.get("input") or "")
        self.calls.append({"path": request.url.path, "headers": dict(request.headers), "body": body, "text": text})
        return body, text

    async def _mishap(self, text: str, provider: str) -> Response | None:
        if "please slow" in text:
            await asyncio.sleep(SLOW_SECONDS)
        if "please reject" in text:
            return _error(provider, 400, "invalid_request_error", "the fake refuses this request")
        marker = text.split("please fail-once", 1)[-1][:40] if "please fail-once" in text else None
        if marker is not None and marker not in self.failed_once:
            self.failed_once.add(marker)
            return _error(provider, 500, "api_error" if provider == "anthropic" else "server_error", "boom")
        return None

    async def chat(self, request: Request) -> Response:
        body, text = await self._take(request)
        mishap = await self._mishap(text, "openai")
        if mishap is not None:
            return mishap
        answer_id = "chatcmpl-repeat" if "please repeat" in text else self.next_id("chatcmpl-")
        if body.get("stream"):
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            return _sse(self._chat_chunks(answer_id, body["model"], text, include_usage))
        message = {"role": "assistant", "content": "".join(STREAM_PIECES), "refusal": None}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return JSONResponse(
            {
                "id": answer_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"] + "-2024-08-06",
                "choices": [choice],
                "usage": OPENAI_USAGE,
            },
            headers={"x-request-id": "req_" + answer_id, "openai-organization": "org-operator-secret"},
        )

    async def _chat_chunks(self, answer_id: str, model: str, text: str, include_usage: bool) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            data: dict[str, Any] = {
                "id": answer_id,
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }
            if include_usage:
                data["usage"] = None
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for number, piece in enumerate(STREAM_PIECES):
            yield chunk({"content": piece})
            if number == 0:
                await self._wait_if_held(text)
            if "please cut" in text and number == 1:
                return  # the connection ends without the rest, and without usage
        yield chunk({}, "stop")
        if include_usage:
            usage = {"id": answer_id, "object": "chat.completion.chunk", "created": 1, "model": model}
            yield f"data: {json.dumps({**usage, 'choices': [], 'usage': OPENAI_USAGE})}\n\n"
        yield "data: [DONE]\n\n"

    async def _wait_if_held(self, text: str) -> None:
        if "please hold " in text:
            word = text.split("please hold ", 1)[1].split('"', 1)[0]
            await asyncio.wait_for(self._event(word).wait(), timeout=60)

    async def responses(self, request: Request) -> Response:
        body, text = await self._take(request)
        mishap = await self._mishap(text, "openai")
        if mishap is not None:
            return mishap
        answer_id = self.next_id("resp_")
        output = [
            {
                "type": "message",
                "id": "msg_" + answer_id,
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello there", "annotations": []}],
            }
        ]
        response = {
            "id": answer_id,
            "object": "response",
            "created_at": 1,
            "status": "completed",
            "model": body["model"],
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": RESPONSES_USAGE,
        }
        if not body.get("stream"):
            return JSONResponse(response)

        async def events() -> AsyncIterator[str]:
            created = {**response, "status": "in_progress", "output": [], "usage": None}
            yield f"event: response.created\ndata: {json.dumps({'type': 'response.created', 'sequence_number': 0, 'response': created})}\n\n"
            delta = {
                "type": "response.output_text.delta",
                "sequence_number": 1,
                "item_id": "m",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hello there",
                "logprobs": [],
            }
            yield f"event: response.output_text.delta\ndata: {json.dumps(delta)}\n\n"
            yield f"event: response.completed\ndata: {json.dumps({'type': 'response.completed', 'sequence_number': 2, 'response': response})}\n\n"

        return _sse(events())

    async def embeddings(self, request: Request) -> Response:
        body, _text = await self._take(request)
        data = [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}]
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": EMBEDDINGS_USAGE})

    async def messages(self, request: Request) -> Response:
        body, text = await self._take(request)
        mishap = await self._mishap(text, "anthropic")
        if mishap is not None:
            return mishap
        answer_id = self.next_id("msg_")
        if body.get("stream"):
            return _sse(self._message_events(answer_id, body["model"], text))
        return JSONResponse(
            {
                "id": answer_id,
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": "".join(STREAM_PIECES)}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": ANTHROPIC_USAGE,
            },
            headers={"request-id": "req_" + answer_id},
        )

    async def _message_events(self, answer_id: str, model: str, text: str) -> AsyncIterator[str]:
        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        message = {
            "id": answer_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": ANTHROPIC_START_USAGE,
        }
        yield event("message_start", {"message": message})
        yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        for number, piece in enumerate(STREAM_PIECES):
            yield event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            if number == 0:
                await self._wait_if_held(text)
        yield event("content_block_stop", {"index": 0})
        delta = {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 40}}
        yield event("message_delta", delta)
        yield event("message_stop", {})


def _sse(chunks: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream")


def _error(provider: str, status: int, kind: str, message: str) -> JSONResponse:
    if provider == "anthropic":
        return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status)
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status)


@contextmanager
def fake_provider() -> Iterator[tuple[str, FakeProvider]]:
    """The fake, served by uvicorn in a thread: (its base URL, the fake)."""
    fake = FakeProvider()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake provider did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
