"""The gateway's pure parts: estimates, usage event ids, and usage read from
streamed answers cut anywhere."""

import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from domain.call_estimate import DEFAULT_OUTPUT_TOKENS, estimated_usage, usage_event_id
from domain.identifiers import is_caller_id
from domain.provider_streams import SseSplitter, StreamUsage


def sse(kind: str | None, data: Any) -> bytes:
    head = f"event: {kind}\n" if kind else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


OPENAI_STREAM = [
    sse(None, {"id": "chatcmpl-1", "model": "gpt-4o", "choices": [{"delta": {"content": "Hi"}}], "usage": None}),
    sse(
        None,
        {"id": "chatcmpl-1", "model": "gpt-4o", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}},
    ),
    b"data: [DONE]\n\n",
]
ANTHROPIC_STREAM = [
    sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "c",
                "usage": {"input_tokens": 5, "cache_read_input_tokens": 7, "output_tokens": 1},
            },
        },
    ),
    sse("content_block_delta", {"type": "content_block_delta", "delta": {"text": "Hi"}}),
    sse("message_delta", {"type": "message_delta", "usage": {"output_tokens": 30, "input_tokens": None}}),
    sse("message_stop", {"type": "message_stop"}),
]


def relay(provider: str, events: list[bytes], cuts: list[int]) -> tuple[list[bytes], StreamUsage, list[bool]]:
    whole = b"".join(events)
    points = sorted({0, len(whole), *(cut % (len(whole) + 1) for cut in cuts)})
    splitter, usage, passed, usage_only = SseSplitter(), StreamUsage(provider), [], []
    for start, end in itertools.pairwise(points):
        for event in splitter.feed(whole[start:end]):
            passed.append(event)
            usage_only.append(usage.read(event))
    assert splitter.rest() == b""
    return passed, usage, usage_only


@given(st.lists(st.integers(min_value=0), max_size=12))
def test_openai_usage_is_read_however_the_bytes_are_cut(cuts: list[int]) -> None:
    passed, usage, usage_only = relay("openai", OPENAI_STREAM, cuts)
    assert passed == OPENAI_STREAM, "every event passes whole and in order"
    assert usage.response_id == "chatcmpl-1"
    assert usage.usage == {"prompt_tokens": 9, "completion_tokens": 2}
    assert usage_only == [False, True, False]


@given(st.lists(st.integers(min_value=0), max_size=12))
def test_anthropic_usage_is_message_start_updated_by_message_delta(cuts: list[int]) -> None:
    passed, usage, usage_only = relay("anthropic", ANTHROPIC_STREAM, cuts)
    assert passed == ANTHROPIC_STREAM
    assert usage.response_id == "msg_1"
    assert usage.usage == {"input_tokens": 5, "cache_read_input_tokens": 7, "output_tokens": 30}
    assert not any(usage_only)


def test_a_stream_cut_before_its_usage_reports_none_and_the_responses_api_reports_at_completion() -> None:
    _, usage, _ = relay("openai", OPENAI_STREAM[:1], [])
    assert usage.usage is None
    completed = {
        "type": "response.completed",
        "response": {"id": "resp_1", "usage": {"input_tokens": 3, "output_tokens": 4}},
    }
    _, responses, _ = relay(
        "openai",
        [
            sse("response.created", {"type": "response.created", "response": {"id": "resp_1"}}),
            sse("response.completed", completed),
        ],
        [],
    )
    assert (responses.response_id, responses.usage) == ("resp_1", {"input_tokens": 3, "output_tokens": 4})


def test_estimates_count_text_and_the_output_cap() -> None:
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 300}], "max_tokens": 50}
    assert estimated_usage("chat/completions", chat) == {
        "input_tokens": 106,
        "output_tokens": 50,
    }  # (300 + 4 characters) / 3, rounded up, + 4 a message
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10_000}}
    with_image = {"model": "gpt-4o", "messages": [{"role": "user", "content": [image]}]}
    assert estimated_usage("chat/completions", with_image) == {  # "user", "image_url": 13 characters; not the data: URL
        "input_tokens": 9,
        "output_tokens": DEFAULT_OUTPUT_TOKENS,
    }
    assert estimated_usage("chat/completions", {**chat, "n": 3})["output_tokens"] == 150
    assert estimated_usage("embeddings", {"model": "e", "input": [[1, 2, 3], "abcdef"]}) == {"input_tokens": 5}
    claude = {"model": "c", "system": "abc", "messages": [{"role": "user", "content": "abc"}], "max_tokens": 9}
    assert estimated_usage("messages", claude) == {"input_tokens": 8, "output_tokens": 9}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=30,
    )
)
def test_any_body_estimates_to_positive_counts(value: Any) -> None:
    for endpoint in ("chat/completions", "embeddings"):
        usage = estimated_usage(endpoint, {"model": "m", "messages": value, "input": value, "max_tokens": value})
        assert usage["input_tokens"] >= 1
        assert all(isinstance(count, int) and count >= 0 for count in usage.values())


@given(st.text(max_size=300), st.booleans())
def test_usage_event_ids_are_caller_ids_and_stable(response_id: str, given_id: bool) -> None:
    made = usage_event_id("openai", response_id if given_id else None, "gw.abc")
    assert is_caller_id(made)
    assert made == usage_event_id("openai", response_id if given_id else None, "gw.abc")
    assert usage_event_id("openai", "chatcmpl-9", "x") == "gw.openai.chatcmpl-9"
