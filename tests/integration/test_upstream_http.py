"""The gateway's HTTP upstream adapter against real sockets: a compressed
answer comes back decoded (its content-encoding is not passed on), the
operator's key replaces the client's, a provider that cannot be reached is
UpstreamBroken, and one that goes silent mid-answer is UpstreamTimeout."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import Awaitable, Callable

import pytest

from application.gateway_ports import UpstreamBroken, UpstreamTimeout
from infrastructure.upstream_http import HttpUpstreams, UpstreamConfig

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _request(reader: asyncio.StreamReader) -> tuple[dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")[1:]
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return headers, body


def _closed_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _whole_answer(upstreams: HttpUpstreams, provider: str, path: str) -> tuple[int, bytes]:
    """The status and the whole body of one call with an empty JSON body."""
    opened = await upstreams.open(provider, path, b"{}", {})
    body = b"".join([chunk async for chunk in opened.chunks])
    await opened.close()
    return opened.status, body


async def _serving(handler: Handler, run: Callable[[str], Awaitable[None]]) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await run(f"http://127.0.0.1:{port}/v1")
    finally:
        server.close()


def test_a_compressed_answer_is_decoded_and_the_keys_are_swapped() -> None:
    seen: dict[str, str] = {}
    answer = json.dumps({"id": "chatcmpl-1", "usage": {"prompt_tokens": 3}}).encode()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers, body = await _request(reader)
        seen.update(headers, body=body.decode())
        packed = gzip.compress(answer)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            b"x-request-id: req-1\r\nset-cookie: org=secret\r\n"
            + f"content-length: {len(packed)}\r\n\r\n".encode()
            + packed
        )
        await writer.drain()
        writer.close()

    async def run(url: str) -> None:
        upstreams = HttpUpstreams({"openai": UpstreamConfig(url, "sk-operator")}, 5.0)
        try:
            client_headers = {"authorization": "Bearer sk-customer", "accept": "application/json"}
            opened = await upstreams.open("openai", "chat/completions", b'{"model": "gpt-4o"}', client_headers)
            body = b"".join([chunk async for chunk in opened.chunks])
            await opened.close()
            assert (opened.status, body) == (200, answer)
            assert opened.headers == {"content-type": "application/json", "x-request-id": "req-1"}
        finally:
            await upstreams.aclose()

    asyncio.run(_serving(handler, run))
    assert seen["authorization"] == "Bearer sk-operator"
    assert seen["body"] == '{"model": "gpt-4o"}'


def test_a_provider_out_of_reach_is_broken_and_a_silent_one_times_out() -> None:
    closed = _closed_port()

    async def unreachable() -> None:
        upstreams = HttpUpstreams({"openai": UpstreamConfig(f"http://127.0.0.1:{closed}/v1", None)}, 5.0)
        try:
            with pytest.raises(UpstreamBroken):
                await upstreams.open("openai", "chat/completions", b"{}", {})
        finally:
            await upstreams.aclose()

    asyncio.run(unreachable())

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"6\r\ndata: \r\n")  # one part, then silence
        await writer.drain()
        await asyncio.sleep(2)
        writer.close()

    async def run(url: str) -> None:
        upstreams = HttpUpstreams({"openai": UpstreamConfig(url, None)}, 0.3)
        try:
            opened = await upstreams.open("openai", "chat/completions", b"{}", {})
            parts: list[bytes] = []

            async def read() -> None:
                async for chunk in opened.chunks:
                    parts.append(chunk)

            with pytest.raises(UpstreamTimeout):
                await read()
            assert b"".join(parts) == b"data: "
            await opened.close()
        finally:
            await upstreams.aclose()

    asyncio.run(_serving(handler, run))


def test_a_redirect_is_passed_back_and_never_followed_with_the_operators_key() -> None:
    elsewhere: list[bytes] = []

    async def other(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        elsewhere.append(await reader.read(65536))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def run() -> None:
        thief = await asyncio.start_server(other, "127.0.0.1", 0)
        target = f"http://127.0.0.1:{thief.sockets[0].getsockname()[1]}/steal"

        async def redirecting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _request(reader)
            writer.write(f"HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}\r\ncontent-length: 0\r\n\r\n".encode())
            await writer.drain()
            writer.close()

        async def call(url: str) -> None:
            upstreams = HttpUpstreams({"anthropic": UpstreamConfig(url, "sk-ant-operator")}, 5.0)
            try:
                assert await _whole_answer(upstreams, "anthropic", "v1/messages") == (307, b"")
            finally:
                await upstreams.aclose()

        try:
            await _serving(redirecting, call)
        finally:
            thief.close()

    asyncio.run(run())
    assert elsewhere == [], "the operator's key went to the host the redirect named"


def test_a_provider_that_stops_reading_a_big_call_times_out() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3)  # reads nothing: the call's body fills the socket's buffers
        writer.close()

    async def run(url: str) -> None:
        upstreams = HttpUpstreams({"openai": UpstreamConfig(url, None)}, 0.5)
        try:
            with pytest.raises(UpstreamTimeout):
                await asyncio.wait_for(upstreams.open("openai", "chat/completions", b"x" * 32 * 1024 * 1024, {}), 10)
        finally:
            await upstreams.aclose()

    asyncio.run(_serving(deaf, run))


def test_the_environments_proxy_carries_the_call_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY and NO_PROXY apply as they do for any HTTP client (read once
    per upstream, not per call): through the proxy, the call names the
    upstream in its request line; a host NO_PROXY names is called directly."""
    lines: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines.append((await reader.readline()).decode().strip())
        await _request(reader)  # the rest of the head, and the body
        answer = b'{"id": "chatcmpl-proxied"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: "
            + str(len(answer)).encode()
            + b"\r\n\r\n"
            + answer
        )
        await writer.drain()
        writer.close()

    async def through_proxy(proxy_url: str) -> None:
        monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        upstreams = HttpUpstreams({"openai": UpstreamConfig("http://provider.invalid/v1", "sk-operator")}, 5.0)
        try:
            for _ in range(2):
                assert await _whole_answer(upstreams, "openai", "chat/completions") == (
                    200,
                    b'{"id": "chatcmpl-proxied"}',
                )
        finally:
            await upstreams.aclose()

    asyncio.run(_serving(proxy, through_proxy))
    assert lines == ["POST http://provider.invalid/v1/chat/completions HTTP/1.1"] * 2

    async def provider(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    async def bypassing(url: str) -> None:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        upstreams = HttpUpstreams({"openai": UpstreamConfig(url, None)}, 5.0)
        try:
            assert (await _whole_answer(upstreams, "openai", "chat/completions"))[0] == 200
        finally:
            await upstreams.aclose()

    asyncio.run(_serving(provider, bypassing))
