"""The client's parts on their own: the usage mapping, the buffer keeping a
batch that failed and sending it again with the same events, and the
transport's retry limit."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tally_client import TallyClient, TallyError, Transport, UsageBuffer, tally_units
from tally_client.metering import event_id


def test_openai_usage_maps_to_tally_units() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 600}}
    assert tally_units("openai", usage) == {"input_tokens": 400, "cached_input_tokens": 600, "output_tokens": 50}
    assert tally_units("openai", {"prompt_tokens": 7, "completion_tokens": 0, "prompt_tokens_details": None}) == {
        "input_tokens": 7
    }


def test_anthropic_usage_maps_to_tally_units() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 40,
        "server_tool_use": None,
    }
    assert tally_units("anthropic", usage) == {
        "input_tokens": 10,
        "output_tokens": 20,
        "cached_input_tokens": 30,
        "cache_write_tokens": 40,
    }


@pytest.mark.parametrize(
    ("usage_format", "usage"),
    [
        ("gemini", {"input_tokens": 1}),
        ("openai", {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 2}}),
        ("openai", {"prompt_tokens": 1.5}),
        ("anthropic", {"input_tokens": True}),
    ],
)
def test_a_usage_object_that_is_not_one_is_refused(usage_format: str, usage: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        tally_units(usage_format, usage)


def test_event_ids_derive_from_response_ids_within_the_id_rules() -> None:
    assert event_id("openai", "chatcmpl-AbC123") == "openai-chatcmpl-AbC123"
    assert event_id("anthropic", "msg/01 x") == "anthropic-msg_01_x"
    assert len(event_id("openai", "x" * 500)) == 128


def test_a_failed_batch_stays_and_goes_again_with_the_same_events() -> None:
    sent: list[list[str]] = []
    failing = threading.Event()
    failing.set()

    def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sent.append([event["id"] for event in batch])
        if failing.is_set():
            raise TallyError(0, "unavailable", "down")
        return [{"id": event["id"], "status": "accepted"} for event in batch]

    buffer = UsageBuffer(send, max_batch=2, flush_interval_seconds=3600)
    for i in range(3):
        buffer.add({"id": f"e{i}"})
    with pytest.raises(TallyError):
        buffer.flush()
    assert buffer.pending() == 3 and buffer.stats.failed_flushes >= 1
    failing.clear()
    buffer.close()
    assert sent[-2:] == [["e0", "e1"], ["e2"]]
    assert all(attempt == ["e0", "e1"] for attempt in sent[:-2])
    assert (buffer.stats.accepted, buffer.pending()) == (3, 0)
    with pytest.raises(RuntimeError):
        buffer.add({"id": "late"})


def test_the_transport_gives_up_after_its_attempts_and_never_retries_a_4xx() -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/down":
            return httpx.Response(503, json={"code": "unavailable", "detail": "busy"})
        return httpx.Response(422, json={"code": "validation_error", "detail": "bad"})

    http = httpx.Client(base_url="http://tally.test", transport=httpx.MockTransport(answer))
    transport = Transport("http://tally.test", "k", max_attempts=3, http_client=http, sleep=lambda _: None)
    with pytest.raises(TallyError, match="failed 3 times"):
        transport.request("GET", "/down")
    with pytest.raises(TallyError) as refused:
        transport.request("POST", "/bad", {})
    assert (refused.value.status, refused.value.code) == (422, "validation_error")
    assert calls == ["/down"] * 3 + ["/bad"]
    assert transport.retries == 2


def test_a_batch_over_the_byte_limit_goes_in_halves() -> None:
    sizes: list[int] = []

    def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sizes.append(len(batch))
        if len(batch) > 2:
            raise TallyError(413, "payload_too_large", "the body is over 1 MiB")
        return [{"id": event["id"], "status": "accepted"} for event in batch]

    buffer = UsageBuffer(send, max_batch=8, flush_interval_seconds=3600)
    for i in range(5):
        buffer.add({"id": f"e{i}"})
    buffer.close()
    assert sizes == [5, 2, 2, 1]
    assert buffer.stats.accepted == 5 and buffer.stats.failed_flushes == 0


def test_an_event_that_is_not_json_is_refused_at_once() -> None:
    client = TallyClient("http://127.0.0.1:9", "k", flush_interval_seconds=3600)
    try:
        with pytest.raises(TypeError):
            client.record("e1", "acme", "openai", "gpt-4o", {"input_tokens": 1}, metadata={"x": Decimal("1")})
        assert client.buffer.pending() == 0
    finally:
        client.buffer.close()
        client.transport.close()
