"""meter() around the official async SDK clients, `openai.AsyncOpenAI` and
`anthropic.AsyncAnthropic`, against a real `tally serve` on SQLite and
PostgreSQL and the fake provider: plain calls awaited, streams read with
`async for` and `async with`, cache tokens included, and the balance moved
by exactly the reported usage at the prices in force."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from tally_client import TallyClient, event_id, meter

from tests.client.fakes import OPENAI_USAGE, fake_provider
from tests.e2e.server import client as admin_client
from tests.support import RATES, expected_charge, rates_json

pytestmark = pytest.mark.filterwarnings("ignore:The model:DeprecationWarning")
GRANT = Decimal("25.00")
# Anthropic's prompt caching: a few fresh tokens, many read from the cache, some written to it
ANTHROPIC_CACHED_USAGE = {
    "input_tokens": 40,
    "output_tokens": 300,
    "cache_read_input_tokens": 1800,
    "cache_creation_input_tokens": 600,
}
# what a price book in force prices the cache at (version 2, published by the test)
CACHE_RATES = [
    ("anthropic", "claude-sonnet-4-5", "cached_input_tokens", "0.30", 1_000_000),
    ("anthropic", "claude-sonnet-4-5", "cache_write_tokens", "3.75", 1_000_000),
]


def settled_balance(tally: TallyClient) -> Decimal:
    return tally.balance("acme", consistent=True).balance


def publish_cache_rates(base: str) -> list[tuple[str, str, str, str, int]]:
    """Version 2 of the price book, in force from a moment ago: version 1's
    rates and the Anthropic cache rates; the rates it holds."""
    rates = [*RATES, *CACHE_RATES]
    extra = [{"provider": p, "model": m, "unit": u, "price": price, "per": per} for p, m, u, price, per in CACHE_RATES]
    moment = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with admin_client(base) as admin:
        published = admin.post(
            "/v1/price-books/default/versions", json={"effective_from": moment, "rates": [*rates_json(), *extra]}
        )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2
    return rates


@pytest.mark.parametrize("server_maps_usage", [True, False], ids=["server maps", "client maps"])
def test_meter_records_async_openai_calls_plain_and_streamed(tally: tuple[str, str], server_maps_usage: bool) -> None:
    base, key = tally
    hi = [{"role": "user", "content": "Hi"}]
    with (
        fake_provider() as (provider, provider_base),
        TallyClient(base, key, server_maps_usage=server_maps_usage, flush_interval_seconds=3600) as client,
    ):

        async def run() -> list[str]:
            async with openai.AsyncOpenAI(api_key="sk-test", base_url=f"{provider_base}/v1") as raw:
                metered = meter(raw, client, "acme", feature="chat")
                assert metered.models is not None  # the rest of the client passes through
                plain = await metered.chat.completions.create(model="gpt-4o", messages=hi)
                assert plain.choices[0].message.content == "Hello."
                assert client.buffer.pending() == 1  # recorded by joining the buffer: nothing sent from the loop
                stream = await metered.chat.completions.create(model="gpt-4o", messages=hi, stream=True)
                chunks = [chunk async for chunk in stream]
                assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello."
                assert chunks[-1].usage is not None and not chunks[-1].choices  # the usage chunk asked for
                # the caller turned usage off: it is asked for all the same, as the sync wrapper does
                options: Any = {"include_usage": False}
                created = metered.chat.completions.create(
                    model="gpt-4o", messages=hi, stream=True, stream_options=options
                )
                async with await created as held:
                    ids = {chunk.id async for chunk in held}
                assert client.buffer.pending() == 3 and client.buffer.stats.batches_sent == 0
                return [plain.id, chunks[0].id, *ids]

        answer_ids = asyncio.run(run())
        assert answer_ids == ["chatcmpl-000001", "chatcmpl-000002", "chatcmpl-000003"]
        assert [request.get("stream_options") for request in provider.requests] == [
            None,
            {"include_usage": True},
            {"include_usage": True},
        ]
        client.flush()
        units = {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 350}  # 1200 prompt, 200 cached
        charge = expected_charge({"provider": "openai", "model": "gpt-4o", "usage": units})[1]
        for answer_id in answer_ids:
            recorded = client.usage_event_of("acme", event_id("openai", answer_id))
            assert recorded is not None, answer_id
            assert recorded["usage"] == units and recorded["feature"] == "chat", recorded
            kept = (recorded.get("metadata") or {}).get("provider_usage")
            assert (kept is not None) == server_maps_usage, recorded  # the object as sent, kept for an auditor
            if kept is not None:
                assert kept["usage"]["prompt_tokens"] == OPENAI_USAGE["prompt_tokens"], kept
        assert client.buffer.stats.accepted == 3
        assert settled_balance(client) == GRANT - 3 * charge


def test_meter_records_async_anthropic_calls_with_cache_tokens(tally: tuple[str, str]) -> None:
    base, key = tally
    rates = publish_cache_rates(base)
    asked: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    with fake_provider() as (provider, provider_base), TallyClient(base, key, flush_interval_seconds=3600) as client:
        provider.anthropic_usage = ANTHROPIC_CACHED_USAGE

        async def run() -> list[str]:
            async with anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=provider_base) as raw:
                metered = meter(raw, client, "acme")
                plain = await metered.messages.create(**asked)
                assert plain.content[0].text == "Hello."
                async with await metered.messages.create(**asked, stream=True) as stream:
                    kinds = [event.type async for event in stream]
                assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
                unheld = await metered.messages.create(**asked, stream=True)
                ids = [event.message.id async for event in unheld if event.type == "message_start"]
                assert client.buffer.pending() == 3
                return [plain.id, "msg_000002", *ids]

        answer_ids = asyncio.run(run())
        assert answer_ids[2] == "msg_000003"
        client.flush()
        # input, cache reads, cache writes and output, each at its own rate; the
        # stream's cache counts come from message_start, its output from message_delta
        units = {"input_tokens": 40, "cached_input_tokens": 1800, "cache_write_tokens": 600, "output_tokens": 300}
        charge = expected_charge({"provider": "anthropic", "model": "claude-sonnet-4-5", "usage": units}, rates)[1]
        assert (
            charge
            > expected_charge(
                {
                    "provider": "anthropic",
                    "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 40, "output_tokens": 300},
                }
            )[1]
        )
        for answer_id in answer_ids:
            recorded = client.usage_event_of("acme", event_id("anthropic", answer_id))
            assert recorded is not None and recorded["usage"] == units, (answer_id, recorded)
        assert client.buffer.stats.accepted == 3
        assert settled_balance(client) == GRANT - 3 * charge
