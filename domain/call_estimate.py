"""What a model call may cost before it is made: its input's size and the
output it allows, in tally's units, held as an authorization's estimate.

A hold must cover the call without knowing the tokenizer: input is counted
as one token per CHARACTERS_PER_TOKEN characters of the request's text
(rounded up, plus a few per message), which is above what the providers'
tokenizers count for English; images and files sent inline (data: URLs,
base64 `data`) are not counted. Output is the call's own cap (max_tokens and
its kin), or DEFAULT_OUTPUT_TOKENS when it sets none, for each answer asked
for (`n`). The hold is released
and the real usage charged when the provider reports it, so the estimate
only decides whether a call may start."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from domain.identifiers import is_caller_id

CHARACTERS_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 4
DEFAULT_OUTPUT_TOKENS = 1024
MAX_ESTIMATED_TOKENS = 10**9
TEXT_FIELDS = ("messages", "input", "prompt", "system", "instructions", "tools", "functions")
OUTPUT_CAPS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
MAX_WALK = 100_000  # values looked at in one body, so no body costs more than this


def estimated_usage(endpoint: str, body: Mapping[str, Any]) -> dict[str, int]:
    """Unit counts for a call to `endpoint` ("chat/completions", "responses",
    "embeddings", "messages") with this request body."""
    characters, messages, tokens = _text_size(body)
    input_tokens = math.ceil(characters / CHARACTERS_PER_TOKEN) + TOKENS_PER_MESSAGE * messages + tokens
    usage = {"input_tokens": min(max(input_tokens, 1), MAX_ESTIMATED_TOKENS)}
    if endpoint != "embeddings":
        usage["output_tokens"] = min(_output_cap(body), MAX_ESTIMATED_TOKENS)
    if any(count < 0 for count in usage.values()):  # paired with the bounds above
        raise ValueError("an estimate is never negative")
    return usage


def _output_cap(body: Mapping[str, Any]) -> int:
    """The output the call allows, times the answers it asks for (OpenAI's `n`)."""
    choices = body.get("n")
    answers = choices if isinstance(choices, int) and not isinstance(choices, bool) and 1 <= choices <= 128 else 1
    for name in OUTPUT_CAPS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value * answers
    return DEFAULT_OUTPUT_TOKENS * answers


def _text_size(body: Mapping[str, Any]) -> tuple[int, int, int]:
    """(characters of text, messages, tokens sent as token ids)."""
    characters = messages = tokens = 0
    stack: list[Any] = [body.get(name) for name in TEXT_FIELDS]
    messages = len(body["messages"]) if isinstance(body.get("messages"), list) else 0
    for _ in range(MAX_WALK):
        if not stack:
            break
        value = stack.pop()
        if isinstance(value, str):
            characters += 0 if value.startswith("data:") else len(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            tokens += 1  # embeddings' input as token ids
        elif isinstance(value, Mapping):
            stack.extend(item for key, item in value.items() if key != "data")  # inline base64 files
        elif isinstance(value, list):
            stack.extend(value)
    return characters, messages, tokens


def usage_event_id(provider: str, response_id: str | None, fallback: str) -> str:
    """The usage event's id for a call: from the provider's response id, so a
    call's usage is recorded once however often it is recorded; `fallback`
    (the call's own id) when the provider gave none. A response id that is
    not a caller id as it is (too long, other characters) is digested."""
    source = response_id or fallback
    candidate = f"gw.{provider}.{source}"
    if is_caller_id(candidate):
        return candidate
    return f"gw.{provider}.sha256-{hashlib.sha256(source.encode()).hexdigest()}"
