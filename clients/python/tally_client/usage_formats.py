"""A provider's own usage object, as tally's units.

The server maps these itself when an event says `usage_format` (the
contract's `"openai" | "anthropic"`). A server that does not know the field
yet refuses it, so by default the client sends tally's units, mapped here in
this one function by the contract's rules; `server_maps_usage=True` on the
client sends the provider's object and the format instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMATS = ("openai", "anthropic")


def tally_units(usage_format: str, usage: Mapping[str, Any]) -> dict[str, int]:
    """OpenAI: input = prompt - cached, cached_input = prompt_tokens_details.cached_tokens,
    output = completion (reasoning tokens are part of it, billed as output).
    Anthropic: input, cached_input = cache_read_input_tokens,
    cache_write = cache_creation_input_tokens, output. Zero counts are left out."""
    if usage_format == "openai":
        details = usage.get("prompt_tokens_details") or {}
        cached = _count(details.get("cached_tokens"))
        prompt = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
        output = _count(usage.get("completion_tokens", usage.get("output_tokens")))
        units = {"input_tokens": prompt - cached, "cached_input_tokens": cached, "output_tokens": output}
    elif usage_format == "anthropic":
        units = {
            "input_tokens": _count(usage.get("input_tokens")),
            "cached_input_tokens": _count(usage.get("cache_read_input_tokens")),
            "cache_write_tokens": _count(usage.get("cache_creation_input_tokens")),
            "output_tokens": _count(usage.get("output_tokens")),
        }
    else:
        raise ValueError(f"usage_format must be one of {', '.join(FORMATS)}, not {usage_format!r}")
    if any(count < 0 for count in units.values()):
        raise ValueError(f"a {usage_format} usage object with more cached than prompt tokens: {dict(usage)}")
    return {unit: count for unit, count in units.items() if count}


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a token count must be a whole number, not {value!r}")
    return value
