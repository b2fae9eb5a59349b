"""The Python client (clients/python) against a real `tally serve` on SQLite
and PostgreSQL, with a scoped operator key: batches flushed by size, by time
and on close; a resend after a dropped connection records each event once;
authorizations and balances in Decimal; and meter() recording the usage of
OpenAI and Anthropic client objects, plain and streamed, from a fake
provider speaking their wire formats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from tally_client import AuthorizationDenied, TallyClient, event_id, meter, tally_units

from tests.client.fakes import ANTHROPIC_USAGE, OPENAI_USAGE, dropping_proxy, fake_provider
from tests.e2e.server import wait_for
from tests.support import expected_charge

# the SDK warns of the model's end of life; the fake provider answers for it regardless
pytestmark = pytest.mark.filterwarnings("ignore:The model:DeprecationWarning")
GRANT = Decimal("25.00")
USAGE = {"input_tokens": 1200, "output_tokens": 350}
CHARGE = expected_charge({"provider": "openai", "model": "gpt-4o", "usage": USAGE})[1]


def record(tally: TallyClient, ids: list[str], **extra: Any) -> None:
    for each in ids:
        tally.record(each, "acme", "openai", "gpt-4o", USAGE, **extra)


def settled_balance(tally: TallyClient) -> Decimal:
    return tally.balance("acme", consistent=True).balance


def test_a_batch_goes_when_it_is_full_and_the_rest_on_close(tally: tuple[str, str]) -> None:
    base, key = tally
    ids = [f"size-{i}" for i in range(7)]
    client = TallyClient(base, key, max_batch=3, flush_interval_seconds=3600)
    with client:
        record(client, ids)
        assert wait_for(lambda: client.buffer.stats.batches_sent == 2)
        assert client.buffer.pending() == 1  # the seventh waits: no size reached, no time passed, not closed
        assert all(client.usage_event_of("acme", each) for each in ids[:6])
        assert client.usage_event_of("acme", ids[6]) is None
    stats = client.buffer.stats
    assert (stats.batches_sent, stats.accepted, stats.duplicate, stats.rejected) == (3, 7, 0, 0)
    with TallyClient(base, key) as reader:
        assert reader.usage_event_of("acme", ids[6]) is not None
        assert settled_balance(reader) == GRANT - 7 * CHARGE


def test_a_batch_goes_when_its_oldest_event_has_waited(tally: tuple[str, str]) -> None:
    base, key = tally
    with TallyClient(base, key, max_batch=1000, flush_interval_seconds=0.2) as client:
        record(client, ["time-1", "time-2"])
        # neither full nor flushed nor closed: only the timer sends it
        assert wait_for(lambda: client.buffer.stats.batches_sent == 1)
        assert client.buffer.pending() == 0
        assert client.usage_event_of("acme", "time-1") and client.usage_event_of("acme", "time-2")


def test_a_resend_after_a_dropped_connection_records_each_event_once(tally: tuple[str, str]) -> None:
    base, key = tally
    ids = [f"drop-{i}" for i in range(5)]
    with dropping_proxy(base, drops=2) as (proxy, proxied):
        client = TallyClient(proxied, key, flush_interval_seconds=3600, backoff_seconds=0.01)
        with client:
            record(client, ids)
            client.flush()
            assert proxy["dropped"] == 2  # recorded twice by tally, answered to nobody
            assert client.transport.retries == 2
    stats = client.buffer.stats
    # the third attempt sent the same ids: tally had them
    assert (stats.batches_sent, stats.accepted, stats.duplicate, stats.rejected) == (1, 0, 5, 0)
    with TallyClient(base, key) as reader:
        assert settled_balance(reader) == GRANT - 5 * CHARGE


def test_authorize_capture_and_void_in_decimal(tally: tuple[str, str]) -> None:
    base, key = tally
    with TallyClient(base, key) as client:
        held = client.authorize("auth-1", "acme", Decimal("0.05"))
        assert (held.status, held.held, held.available) == ("approved", Decimal("0.05"), GRANT - Decimal("0.05"))
        assert client.authorize("auth-1", "acme", Decimal("0.05")).held == Decimal("0.05")  # a retry: the same answer
        assert client.balance("acme").held == Decimal("0.05")
        record(client, ["captures-1"], authorization_id="auth-1")
        client.flush()
        assert wait_for(lambda: client.balance("acme").held == 0)
        client.authorize("auth-2", "acme", Decimal("1"))
        assert client.void("auth-2").status == "voided"
        with pytest.raises(AuthorizationDenied) as denied:
            client.authorize("auth-3", "acme", Decimal("1000"))
        assert denied.value.code == "insufficient_funds"
        with pytest.raises(TypeError):
            client.authorize("auth-4", "acme", 0.05)  # type: ignore[arg-type]
        assert settled_balance(client) == GRANT - CHARGE


def test_meter_records_openai_calls_plain_and_streamed(tally: tuple[str, str]) -> None:
    base, key = tally
    with fake_provider() as (provider, provider_base), TallyClient(base, key) as client:
        metered = meter(
            openai.OpenAI(api_key="sk-test", base_url=f"{provider_base}/v1"), client, "acme", feature="chat"
        )
        plain = metered.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        assert plain.choices[0].message.content == "Hello."
        stream = metered.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert text == "Hello."
        assert provider.requests[1]["stream_options"] == {"include_usage": True}
        assert metered.models is not None  # the rest of the client passes through
        client.flush()
        units = tally_units("openai", OPENAI_USAGE)
        assert units == {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 350}
        charge = expected_charge({"provider": "openai", "model": "gpt-4o", "usage": units})[1]
        for answer_id in (plain.id, "chatcmpl-000002"):
            recorded = client.usage_event_of("acme", event_id("openai", answer_id))
            assert recorded is not None, answer_id
            assert recorded["usage"] == units and recorded["feature"] == "chat", recorded
        assert settled_balance(client) == GRANT - 2 * charge


def test_meter_records_anthropic_calls_plain_and_streamed(tally: tuple[str, str]) -> None:
    base, key = tally
    with fake_provider() as (_provider, provider_base), TallyClient(base, key) as client:
        metered = meter(anthropic.Anthropic(api_key="sk-ant-test", base_url=provider_base), client, "acme")
        asked = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
        plain = metered.messages.create(**asked)
        assert plain.content[0].text == "Hello."
        with metered.messages.create(**asked, stream=True) as stream:
            kinds = [event.type for event in stream]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        client.flush()
        units = tally_units("anthropic", ANTHROPIC_USAGE)
        assert units == {"input_tokens": 1000, "output_tokens": 300}
        charge = expected_charge({"provider": "anthropic", "model": "claude-sonnet-4-5", "usage": units})[1]
        for answer_id in (plain.id, "msg_000002"):
            recorded = client.usage_event_of("acme", event_id("anthropic", answer_id))
            assert recorded is not None and recorded["usage"] == units, answer_id
        assert settled_balance(client) == GRANT - 2 * charge


def test_a_response_metered_twice_is_billed_once(tally: tuple[str, str]) -> None:
    base, key = tally
    with fake_provider() as (provider, provider_base), TallyClient(base, key) as client:
        provider.fixed_id = "chatcmpl-same"
        metered = meter(openai.OpenAI(api_key="sk-test", base_url=f"{provider_base}/v1"), client, "acme")
        for _ in range(2):
            metered.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        client.flush()
        stats = client.buffer.stats
        # the second carries the same id at a later moment: not a retry, so tally
        # refuses it (conflict) and the first stands; the call is billed once
        assert (stats.accepted, stats.duplicate, stats.rejected) == (1, 0, 1)
        assert stats.rejections[0]["error"]["code"] == "conflict", stats.rejections
        charge = expected_charge(
            {"provider": "openai", "model": "gpt-4o", "usage": tally_units("openai", OPENAI_USAGE)}
        )
        assert settled_balance(client) == GRANT - charge[1]
