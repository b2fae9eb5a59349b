from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.usage_input import Rejection, UsageInput, parse_usage
from domain.provider_usage import ProviderUsageError, map_usage
from tests.support import NOW, event

counts = st.integers(min_value=0, max_value=10**9)


def test_openai_chat_usage_counts_cached_tokens_apart_from_the_prompt() -> None:
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 350,
        "total_tokens": 1550,
        "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 64},
    }
    assert map_usage("openai", usage) == {"input_tokens": 200, "cached_input_tokens": 1000, "output_tokens": 350}


def test_openai_responses_and_embeddings_shapes() -> None:
    responses = {"input_tokens": 90, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 7}
    assert map_usage("openai", responses) == {"input_tokens": 50, "cached_input_tokens": 40, "output_tokens": 7}
    assert map_usage("openai", {"prompt_tokens": 8, "total_tokens": 8}) == {"input_tokens": 8}
    assert map_usage("openai", {"prompt_tokens": 8, "completion_tokens": 0, "prompt_tokens_details": None}) == {
        "input_tokens": 8,
        "output_tokens": 0,
    }


def test_anthropic_usage_keeps_cache_reads_and_writes_apart() -> None:
    usage = {
        "input_tokens": 12,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 500,
        "output_tokens": 40,
        "service_tier": "standard",
    }
    assert map_usage("anthropic", usage) == {
        "input_tokens": 12,
        "cached_input_tokens": 3000,
        "cache_write_tokens": 500,
        "output_tokens": 40,
    }
    plain = {"input_tokens": 5, "output_tokens": 6, "cache_read_input_tokens": None}
    assert map_usage("anthropic", plain) == {"input_tokens": 5, "output_tokens": 6}


@pytest.mark.parametrize(
    ("usage_format", "usage", "loc"),
    [
        ("gemini", {"prompt_tokens": 1}, "usage_format"),
        ("openai", [1], "usage"),
        ("openai", {"prompt_tokens": -1}, "usage.prompt_tokens"),
        ("openai", {"prompt_tokens": 1.5}, "usage.prompt_tokens"),
        ("openai", {"prompt_tokens": True}, "usage.prompt_tokens"),
        ("openai", {"prompt_tokens": "10"}, "usage.prompt_tokens"),
        (
            "openai",
            {"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 6}},
            "usage.prompt_tokens_details.cached_tokens",
        ),
        ("openai", {"prompt_tokens": 5, "prompt_tokens_details": 3}, "usage.prompt_tokens_details"),
        (
            "openai",
            {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 6}, "output_tokens": 1},
            "usage.input_tokens_details.cached_tokens",
        ),
        ("openai", {"input_tokens": 5}, "usage.output_tokens"),
        ("openai", {"prompt_tokens": 5, "input_tokens": 5}, "usage"),
        ("openai", {"total_tokens": 5}, "usage.prompt_tokens"),
        ("anthropic", {"output_tokens": 5}, "usage.input_tokens"),
        (
            "anthropic",
            {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": -2},
            "usage.cache_read_input_tokens",
        ),
    ],
)
def test_bad_shapes_say_where(usage_format: str, usage: Any, loc: str) -> None:
    with pytest.raises(ProviderUsageError) as raised:
        map_usage(usage_format, usage)
    assert raised.value.loc == loc
    assert raised.value.detail


@given(prompt=counts, cached=counts, completion=counts)
def test_openai_chat_mapping_keeps_every_token(prompt: int, cached: int, completion: int) -> None:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if cached > prompt:
        with pytest.raises(ProviderUsageError):
            map_usage("openai", usage)
        return
    mapped = map_usage("openai", usage)
    assert mapped["input_tokens"] + mapped.get("cached_input_tokens", 0) == prompt
    assert mapped["output_tokens"] == completion
    assert all(count >= 0 for count in mapped.values())
    responses = {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached}, "output_tokens": completion}
    assert map_usage("openai", responses) == mapped  # the two APIs' shapes say the same


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "input_tokens": counts,
            "output_tokens": counts,
            "cache_read_input_tokens": counts,
            "cache_creation_input_tokens": counts,
        },
    )
)
def test_anthropic_mapping_is_a_renaming(usage: dict[str, int]) -> None:
    if "input_tokens" not in usage or "output_tokens" not in usage:
        with pytest.raises(ProviderUsageError):
            map_usage("anthropic", usage)
        return
    mapped = map_usage("anthropic", usage)
    assert sum(mapped.values()) == sum(usage.values())
    assert mapped["input_tokens"] == usage["input_tokens"]
    assert mapped.get("cache_write_tokens", 0) == usage.get("cache_creation_input_tokens", 0)


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.floats(), st.none(), st.text(max_size=3))))
def test_any_object_maps_or_is_refused_with_a_location(usage: dict[str, Any]) -> None:
    for usage_format in ("openai", "anthropic"):
        locs: list[str] = []
        try:
            mapped = map_usage(usage_format, usage)
        except ProviderUsageError as error:
            locs.append(error.loc)
            mapped = {}
        assert all(loc.startswith("usage") for loc in locs)
        assert bool(locs) != bool(mapped), "either mapped or refused"
        assert all(isinstance(count, int) and count >= 0 for count in mapped.values())


def native(event_id: str, **change: Any) -> dict[str, Any]:
    usage = {"prompt_tokens": 1200, "completion_tokens": 350, "prompt_tokens_details": {"cached_tokens": 1000}}
    return {**event(event_id), "usage": usage, "usage_format": "openai", **change}


def test_an_event_in_a_provider_format_is_stored_in_tally_units_with_the_object_as_sent() -> None:
    parsed = parse_usage(native("e1", metadata={"user": "u_42"}), NOW)
    assert isinstance(parsed, UsageInput)
    assert parsed.usage == {"cached_input_tokens": 1000, "input_tokens": 200, "output_tokens": 350}
    assert parsed.metadata == {"user": "u_42", "provider_usage": {"format": "openai", "usage": native("e1")["usage"]}}
    again = parse_usage(native("e1", metadata={"user": "u_42"}), NOW)
    other = parse_usage(
        native("e1", metadata={"user": "u_42"}, usage={"prompt_tokens": 1200, "completion_tokens": 350}), NOW
    )
    assert isinstance(again, UsageInput)
    assert isinstance(other, UsageInput)
    assert parsed.fingerprint == again.fingerprint != other.fingerprint


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"usage_format": "gemini"}, "usage_format"),
        (
            {"usage": {"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}},
            "usage.prompt_tokens_details.cached_tokens",
        ),
        (
            {
                "usage": {"input_tokens": 3, "output_tokens": 1},
                "usage_format": "anthropic",
                "metadata": {"provider_usage": 1},
            },
            "metadata.provider_usage",
        ),
        ({"usage": {"input_tokens": 3, "output_tokens": 1}, "usage_format": "anthropic", "metadata": [1]}, "metadata"),
        ({"usage": {"prompt_tokens": 3}, "customer": "a/b"}, "customer"),
    ],
)
def test_bad_native_events_are_rejected(change: dict[str, Any], loc: str) -> None:
    parsed = parse_usage(native("e1", **change), NOW)
    assert isinstance(parsed, Rejection), parsed
    assert (parsed.code, parsed.loc) == ("validation_error", loc)
