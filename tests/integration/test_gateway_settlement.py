"""The gateway's use case on both stores, with an upstream at the port that
answers what each case needs: an unpriced model, a malformed usage object,
a provider that cannot be reached, a stream that breaks off after
reporting part of its usage; and a past-due customer (its card declined at
the month's billing run, against a local Stripe server) refused before it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from application.gateway import HOLD_HEADER, SMALLEST_HOLD, Gateway
from application.gateway_ports import GatewayAnswer, ProviderCall, UpstreamAnswer, UpstreamBroken
from interfaces.bootstrap import Services
from tests.clock import clock_of
from tests.stripe_server import DECLINED_CARD, customer_with_card
from tests.support import event, expected_charge, seed


class ScriptedUpstream:
    """Answers each call with the next of its scripted answers."""

    def __init__(self, *answers: tuple[int, list[bytes | Exception]] | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []
        self.closed = 0

    async def open(self, provider: str, path: str, body: bytes, headers: Mapping[str, str]) -> UpstreamAnswer:
        self.calls.append({"provider": provider, "path": path, "body": json.loads(body)})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, parts = answer

        async def chunks() -> AsyncIterator[bytes]:
            for part in parts:
                if isinstance(part, Exception):
                    raise part
                yield part

        async def close() -> None:
            self.closed += 1

        return UpstreamAnswer(status, {"content-type": "application/json"}, chunks(), close)


def run(services: Services, upstream: ScriptedUpstream, calls: list[ProviderCall]) -> list[tuple[GatewayAnswer, bytes]]:
    async def go() -> list[tuple[GatewayAnswer, bytes]]:
        gateway = Gateway(services.app.gateway_ledger(), upstream, asyncio.to_thread)
        answered = []
        for call in calls:
            answer = await gateway.call(call)
            body = b"".join([chunk async for chunk in answer.stream]) if answer.stream else answer.body
            answered.append((answer, body))
        await gateway.settled()
        return answered

    return asyncio.run(go())


def call(key: str, model: str = "gpt-4o", provider: str = "openai", **request: Any) -> ProviderCall:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **request}
    path = "v1/messages" if provider == "anthropic" else "chat/completions"
    return ProviderCall(provider, path, json.dumps(body).encode(), {}, key, None)


def held_and_captured(services: Services, hold: str) -> tuple[Decimal, str]:
    services.follower.catch_up()
    found = services.app.authorizations.find_authorization(hold)
    return found.amount, services.app.authorizations.authorization_status(found)


def test_an_unpriced_model_holds_the_smallest_amount_and_a_bad_usage_object_is_flagged(services: Services) -> None:
    seed(services.app)
    key = services.app.customers.issue_api_key("acme").key
    unpriced = json.dumps({"id": "chatcmpl-u", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}).encode()
    malformed = json.dumps(
        {"id": "chatcmpl-m", "usage": {"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 9}}}
    ).encode()
    upstream = ScriptedUpstream((200, [unpriced]), (200, [malformed]))
    (first, _), (second, body) = run(services, upstream, [call(key, "gpt-new"), call(key)])
    assert body == malformed, "the answer passes through whatever its usage"
    assert held_and_captured(services, first.headers[HOLD_HEADER]) == (Decimal(SMALLEST_HOLD), "captured")
    recorded = services.app.metering.find_usage("acme", "gw.openai.chatcmpl-u")
    assert recorded is not None
    assert recorded.usage == {"input_tokens": 10, "output_tokens": 2}
    hold = second.headers[HOLD_HEADER]
    assert held_and_captured(services, hold)[1] == "voided"
    flagged = services.app.metering.find_usage("acme", f"gw.openai.{hold}")
    assert flagged is not None
    assert "cached_tokens (9) is more than prompt_tokens (3)" in flagged.metadata["gateway"]["unreported"]
    assert json.loads(flagged.metadata["gateway"]["usage_as_reported"])["prompt_tokens"] == 3
    assert services.app.metering.find_usage("acme", "gw.openai.chatcmpl-m") is None
    services.follower.catch_up()
    assert services.queries.balance("acme", "USD")[0] == Decimal(100), "nothing priced was charged"


def test_an_unreachable_provider_charges_nothing_and_a_broken_stream_charges_what_was_reported(
    services: Services,
) -> None:
    seed(services.app)
    key = services.app.customers.issue_api_key("acme").key
    start = {
        "type": "message_start",
        "message": {"id": "msg_b", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 7, "output_tokens": 3}},
    }
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    stream = [
        f"event: message_start\ndata: {json.dumps(start)}\n\nevent: content".encode(),
        f"_block_delta\ndata: {json.dumps(delta)}\n\n".encode(),
        UpstreamBroken("reset"),
    ]
    upstream = ScriptedUpstream(UpstreamBroken("refused"), (200, stream))
    calls = [call(key), call(key, "claude-sonnet-4-5", "anthropic", stream=True, max_tokens=50)]
    (refused, _), (streamed, body) = run(services, upstream, calls)
    assert refused.status == 502
    assert refused.refusal is not None
    assert body.endswith(b'Hi"}}\n\n'), "every whole event reached the client"
    hold = streamed.headers[HOLD_HEADER]
    assert held_and_captured(services, hold)[1] == "captured"
    recorded = services.app.metering.find_usage("acme", "gw.anthropic.msg_b")
    assert recorded is not None
    assert recorded.usage == {"input_tokens": 7, "output_tokens": 3}
    assert recorded.metadata["gateway"]["note"] == "the provider's answer broke off"
    assert upstream.closed == 1
    services.follower.catch_up()
    charged = expected_charge(event("x", model="claude-sonnet-4-5", input_tokens=7, output_tokens=3))[1]
    assert services.queries.balance("acme", "USD")[0] == Decimal(100) - charged


def test_a_past_due_customer_is_refused_before_the_provider(stripe_services: Services, stripe_base: str) -> None:
    services, app = stripe_services, stripe_services.app
    services.follower.start()  # billing waits for the read model, as a server's would
    seed(app, customers=("acme",))
    app.customers.create_customer(
        "globex", "Globex", "USD", "pro", "postpaid", 30, customer_with_card(stripe_base, DECLINED_CARD)
    )
    assert app.metering.record_usage([event("g1", "globex")])[0].status == "accepted"
    services.follower.catch_up()
    first_of_december = datetime(2026, 12, 1, tzinfo=UTC)
    clock_of(app).set(first_of_december + timedelta(minutes=30))
    app.billing.billing_run(first_of_december)
    services.follower.catch_up()
    assert app.billing.customer_status("globex") == "past_due"
    upstream = ScriptedUpstream()  # no answer scripted: a call reaching it would fail the test
    ((answer, _),) = run(services, upstream, [call(app.customers.issue_api_key("globex").key)])
    assert answer.refusal is not None
    assert (answer.status, answer.refusal.code) == (402, "account_past_due")
    assert upstream.calls == []
