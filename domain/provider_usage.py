"""The providers' own usage objects, mapped onto tally's units.

OpenAI counts cached prompt tokens inside the prompt (`prompt_tokens`, or the
Responses API's `input_tokens`), so the uncached input is the difference;
Anthropic counts them apart (`input_tokens` is uncached already). Reasoning
tokens are part of OpenAI's completion tokens and are billed as output, so
they are not a unit of their own here (that would count them twice).
Fields the mapping does not read are left alone: providers add fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

USAGE_FORMATS = ("openai", "anthropic")
MAX_COUNT = 10**15


class ProviderUsageError(ValueError):
    """A usage object that does not have its format's shape; `loc` names the field."""

    def __init__(self, loc: str, detail: str) -> None:
        super().__init__(detail)
        self.loc = loc
        self.detail = detail


def map_usage(usage_format: object, usage: object) -> dict[str, int]:
    """Tally's unit counts for a provider's usage object. Zero cache counts
    are left out; input and output are always there when the shape has them."""
    if usage_format not in USAGE_FORMATS:
        raise ProviderUsageError("usage_format", f"usage_format is one of {', '.join(USAGE_FORMATS)}")
    if not isinstance(usage, Mapping):
        raise ProviderUsageError("usage", f"usage must be the provider's usage object for usage_format {usage_format}")
    mapped = _openai(usage) if usage_format == "openai" else _anthropic(usage)
    if any(count < 0 for count in mapped.values()):  # the checks above make this impossible; paired with them
        raise ProviderUsageError("usage", "the usage maps to a negative count")
    return {unit: count for unit, count in mapped.items() if count or unit in ("input_tokens", "output_tokens")}


def _openai(usage: Mapping[str, Any]) -> dict[str, int]:
    if "prompt_tokens" in usage and "input_tokens" in usage:
        raise ProviderUsageError("usage", "usage holds both prompt_tokens (Chat) and input_tokens (Responses)")
    if "prompt_tokens" in usage:  # Chat Completions, or Embeddings (prompt_tokens only)
        prompt = _count(usage, "prompt_tokens", required=True)
        cached = _nested_count(usage, "prompt_tokens_details", "cached_tokens")
        if cached > prompt:
            raise ProviderUsageError(
                "usage.prompt_tokens_details.cached_tokens",
                f"cached_tokens ({cached}) is more than prompt_tokens ({prompt})",
            )
        mapped = {"input_tokens": prompt - cached, "cached_input_tokens": cached}
        if "completion_tokens" in usage:
            mapped["output_tokens"] = _count(usage, "completion_tokens", required=True)
        return mapped
    if "input_tokens" in usage:  # the Responses API
        total_input = _count(usage, "input_tokens", required=True)
        cached = _nested_count(usage, "input_tokens_details", "cached_tokens")
        if cached > total_input:
            raise ProviderUsageError(
                "usage.input_tokens_details.cached_tokens",
                f"cached_tokens ({cached}) is more than input_tokens ({total_input})",
            )
        output = _count(usage, "output_tokens", required=True)
        return {"input_tokens": total_input - cached, "cached_input_tokens": cached, "output_tokens": output}
    raise ProviderUsageError(
        "usage.prompt_tokens", "an OpenAI usage object has prompt_tokens (Chat, Embeddings) or input_tokens (Responses)"
    )


def _anthropic(usage: Mapping[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": _count(usage, "input_tokens", required=True),
        "cached_input_tokens": _count(usage, "cache_read_input_tokens"),
        "cache_write_tokens": _count(usage, "cache_creation_input_tokens"),
        "output_tokens": _count(usage, "output_tokens", required=True),
    }


def _nested_count(usage: Mapping[str, Any], details: str, name: str) -> int:
    """A count inside a details object; the object may be missing or null."""
    inner = usage.get(details)
    if inner is None:
        return 0
    if not isinstance(inner, Mapping):
        raise ProviderUsageError(f"usage.{details}", f"{details} must be an object")
    return _count(inner, name, loc=f"usage.{details}.{name}")


def _count(usage: Mapping[str, Any], name: str, *, required: bool = False, loc: str | None = None) -> int:
    """A whole, non-negative count; an optional one may be missing or null."""
    where = loc or f"usage.{name}"
    value = usage.get(name)
    if value is None:
        if required:
            raise ProviderUsageError(where, f"{name} is required")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProviderUsageError(where, f"{name} must be a whole number, got {type(value).__name__}")
    if value < 0:
        raise ProviderUsageError(where, f"{name} must not be negative, got {value}")
    if value > MAX_COUNT:
        raise ProviderUsageError(where, f"{name} is over the limit of {MAX_COUNT}")
    return value
