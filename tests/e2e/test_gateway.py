"""The gateway through a real server, driven by the official openai and
anthropic SDKs, with a local fake provider upstream (tests/fake_provider.py),
on SQLite and PostgreSQL: answers pass through, wallets move by exactly the
usage reported at the prices in force, refusals never reach the provider,
failures charge nothing, a retried call is charged once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, running_server, wait_for
from tests.fake_provider import FakeProvider, fake_provider
from tests.support import Q12

OPERATOR_OPENAI_KEY = "sk-operator-openai"
OPERATOR_ANTHROPIC_KEY = "sk-ant-operator"
RATES = [  # per million tokens
    ("openai", "gpt-4o", "input_tokens", "2.50"),
    ("openai", "gpt-4o", "cached_input_tokens", "1.25"),
    ("openai", "gpt-4o", "output_tokens", "10"),
    ("openai", "text-embedding-3-small", "input_tokens", "0.02"),
    ("anthropic", "claude-sonnet-4-6", "input_tokens", "3"),
    ("anthropic", "claude-sonnet-4-6", "cached_input_tokens", "0.30"),
    ("anthropic", "claude-sonnet-4-6", "cache_write_tokens", "3.75"),
    ("anthropic", "claude-sonnet-4-6", "output_tokens", "15"),
]
MARKUP = Decimal("20")
FUNDS = Decimal("25")
MIB = 1024 * 1024
# The fake's usage in tally's units (tests/fake_provider.py), worked out by hand.
CHAT_UNITS = {"input_tokens": 200, "cached_input_tokens": 1000, "output_tokens": 350}
RESPONSES_UNITS = {"input_tokens": 800, "cached_input_tokens": 100, "output_tokens": 70}
EMBEDDING_UNITS = {"input_tokens": 8}
MESSAGE_UNITS = {"input_tokens": 12, "cached_input_tokens": 3000, "cache_write_tokens": 500, "output_tokens": 40}


def charge(model: str, units: dict[str, int]) -> Decimal:
    """What the usage costs the customer, computed here independently of tally's rating."""
    table = {(m, u): Decimal(price) / 1_000_000 for _p, m, u, price in RATES}
    cost = sum(
        ((Decimal(n) * table[(model, unit)]).quantize(Q12, ROUND_HALF_EVEN) for unit, n in units.items()), Decimal(0)
    )
    return (cost * (100 + MARKUP) / 100).quantize(Q12, ROUND_HALF_EVEN)


@dataclass
class Gateway:
    base: str
    fake: FakeProvider
    keys: dict[str, str]  # customer → its key

    def openai(self, customer: str = "acme", **options: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base}/gateway/openai/v1", api_key=self.keys[customer], **options)

    def anthropic(self, customer: str = "acme", **options: Any) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=f"{self.base}/gateway/anthropic", api_key=self.keys[customer], **options)

    def balance(self, customer: str = "acme") -> dict[str, Any]:
        with client(self.base) as api:
            return consistent_balance(api, customer)

    def metrics(self) -> dict[str, int]:
        """tally_gateway_calls_total by outcome, from /metrics."""
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        prefix = 'tally_gateway_calls_total{outcome="'
        samples = [line.removeprefix(prefix).split('"} ') for line in text.splitlines() if line.startswith(prefix)]
        return {outcome: int(float(count)) for outcome, count in samples}  # Prometheus writes 4.0

    def usage_counted(self) -> dict[str, int]:
        """tally_usage_events_total by status, from /metrics."""
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        prefix = 'tally_usage_events_total{status="'
        samples = [line.removeprefix(prefix).split('"} ') for line in text.splitlines() if line.startswith(prefix)]
        return {status: int(float(count)) for status, count in samples if float(count)}

    def event(self, event_id: str, customer: str = "acme") -> dict[str, Any]:
        with client(self.base) as api:
            answer = api.get(f"/v1/events/{customer}/{event_id}")
            assert answer.status_code == 200, answer.text
            found: dict[str, Any] = answer.json()
            return found


def set_up(api: httpx.Client) -> dict[str, str]:
    assert api.post("/v1/price-books", json={"id": "default", "currency": "USD"}).status_code == 201
    rates = [{"provider": p, "model": m, "unit": u, "price": price, "per": 1_000_000} for p, m, u, price in RATES]
    version = {"effective_from": "2026-01-01T00:00:00Z", "rates": rates}
    assert api.post("/v1/price-books/default/versions", json=version).status_code == 201
    assert (
        api.post("/v1/plans", json={"id": "pro", "price_book": "default", "markup_percent": str(MARKUP)}).status_code
        == 201
    )
    keys = {}
    for customer in ("acme", "poor", "limited"):
        body = {"id": customer, "name": customer.title(), "currency": "USD", "plan": "pro", "billing": "prepaid"}
        assert api.post("/v1/customers", json=body).status_code == 201
        if customer != "poor":
            grant = {"id": "welcome", "amount": str(FUNDS), "source": "grant"}
            assert api.post(f"/v1/customers/{customer}/top-ups", json=grant).status_code == 201
        keys[customer] = api.post(f"/v1/customers/{customer}/api-keys").json()["key"]
    assert api.put("/v1/customers/limited/limits", json={"hard_limit": "0.01"}).status_code == 200
    return keys


@pytest.fixture
def gateway(database_url: str) -> Iterator[Gateway]:
    with fake_provider() as (upstream, fake):
        env = {
            "TALLY_UPSTREAM_OPENAI_URL": f"{upstream}/v1",
            "TALLY_UPSTREAM_OPENAI_KEY": OPERATOR_OPENAI_KEY,
            "TALLY_UPSTREAM_ANTHROPIC_URL": upstream,
            "TALLY_UPSTREAM_ANTHROPIC_KEY": OPERATOR_ANTHROPIC_KEY,
            "TALLY_UPSTREAM_TIMEOUT_SECONDS": "4",
            "TALLY_GATEWAY_MAX_BODY_BYTES": str(3 * MIB),
        }
        with running_server(database_url, env_extra=env) as base, client(base) as api:
            yield Gateway(base, fake, set_up(api))


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def test_openai_calls_pass_through_and_are_charged_their_reported_usage(gateway: Gateway) -> None:
    sdk = gateway.openai()
    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("hi"), extra_headers={"x-tally-feature": "support"}
    )
    chat = raw.parse()
    assert raw.headers["x-request-id"] == f"req_{chat.id}", "the provider's request id reaches the client"
    assert "openai-organization" not in raw.headers, "the operator's organisation does not"
    assert OPERATOR_OPENAI_KEY not in str(raw.headers) + raw.text
    assert chat.choices[0].message.content == "Hello there"
    assert chat.usage is not None
    assert chat.usage.prompt_tokens == 1200
    quiet = list(sdk.chat.completions.create(model="gpt-4o", messages=ask("stream it"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in quiet if c.choices) == "Hello there"
    assert all(c.choices for c in quiet), "a client that did not ask for the usage chunk does not get it"
    asked = list(
        sdk.chat.completions.create(
            model="gpt-4o", messages=ask("stream with usage"), stream=True, stream_options={"include_usage": True}
        )
    )
    assert asked[-1].choices == []
    assert asked[-1].usage is not None
    assert asked[-1].usage.completion_tokens == 350
    response = sdk.responses.create(model="gpt-4o", input="hello")
    assert response.output_text == "Hello there"
    events = list(sdk.responses.create(model="gpt-4o", input="stream it", stream=True))
    assert [e.type for e in events] == ["response.created", "response.output_text.delta", "response.completed"]
    embedding = sdk.embeddings.create(model="text-embedding-3-small", input="hello")
    assert embedding.data[0].embedding == [0.25, -0.5, 0.125]

    expected = 3 * charge("gpt-4o", CHAT_UNITS) + 2 * charge("gpt-4o", RESPONSES_UNITS)
    expected += charge("text-embedding-3-small", EMBEDDING_UNITS)
    balance = gateway.balance()
    assert Decimal(balance["balance"]) == FUNDS - expected
    assert Decimal(balance["held"]) == 0, "every hold is captured"
    recorded = gateway.event(f"gw.openai.{chat.id}")
    assert recorded["usage"] == CHAT_UNITS
    assert recorded["feature"] == "support"
    assert recorded["model"] == "gpt-4o"
    assert recorded["metadata"]["provider_usage"]["format"] == "openai"
    assert gateway.event(f"gw.openai.{response.id}")["usage"] == RESPONSES_UNITS
    calls = gateway.fake.calls
    assert len(calls) == 6
    assert {call["headers"].get("authorization") for call in calls} == {f"Bearer {OPERATOR_OPENAI_KEY}"}
    assert calls[1]["body"]["stream_options"] == {"include_usage": True}, "the gateway asks for the usage chunk"
    assert gateway.usage_counted() == {"accepted": 6}, "the gateway's usage is counted as POST /v1/events is"


def test_anthropic_calls_pass_through_and_are_charged_with_cache_reads_and_writes(gateway: Gateway) -> None:
    sdk = gateway.anthropic()
    message = sdk.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=ask("hi"))
    assert message.content[0].text == "Hello there"  # type: ignore[union-attr]
    assert message.usage.cache_read_input_tokens == 3000
    with sdk.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=ask("stream it")) as stream:
        assert "".join(stream.text_stream) == "Hello there"
        streamed = stream.get_final_message()
    assert streamed.usage.output_tokens == 40
    balance = gateway.balance()
    assert Decimal(balance["balance"]) == FUNDS - 2 * charge("claude-sonnet-4-6", MESSAGE_UNITS)
    assert Decimal(balance["held"]) == 0
    assert gateway.event(f"gw.anthropic.{streamed.id}")["usage"] == MESSAGE_UNITS
    headers = [call["headers"] for call in gateway.fake.calls]
    assert {h.get("x-api-key") for h in headers} == {OPERATOR_ANTHROPIC_KEY}
    assert not any(gateway.keys["acme"] in str(h) for h in headers), "the customer's key never reaches the provider"


def test_refusals_answer_in_the_providers_shape_and_never_reach_the_provider(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as poor:
        gateway.openai("poor").chat.completions.create(model="gpt-4o", messages=ask("hi"))
    assert poor.value.status_code == 402
    assert poor.value.code == "insufficient_funds"
    with pytest.raises(anthropic.APIStatusError) as poor_claude:
        gateway.anthropic("poor").messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=ask("hi"))
    assert poor_claude.value.status_code == 402
    assert poor_claude.value.body["error"]["type"] == "billing_error"  # type: ignore[index]
    with pytest.raises(openai.APIStatusError) as limited:
        gateway.openai("limited").chat.completions.create(model="gpt-4o", messages=ask("hi"), max_tokens=5000)
    assert limited.value.code == "spending_limit_exceeded"
    wrong = openai.OpenAI(base_url=f"{gateway.base}/gateway/openai/v1", api_key="not-a-key")
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="gpt-4o", messages=ask("hi"))
    with pytest.raises(openai.BadRequestError):
        gateway.openai().chat.completions.create(
            model="gpt-4o", messages=ask("hi"), extra_headers={"x-tally-feature": ""}
        )
    assert gateway.fake.count() == 0
    assert Decimal(gateway.balance("poor")["balance"]) == 0
    assert gateway.metrics() == {"refused": 4}


def test_provider_errors_and_timeouts_charge_nothing(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as rejected:
        gateway.openai().chat.completions.create(model="gpt-4o", messages=ask("please reject"))
    assert rejected.value.body == {
        "message": "the fake refuses this request",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(anthropic.BadRequestError):
        gateway.anthropic().messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=ask("please reject"))
    with pytest.raises(openai.APIStatusError) as slow:
        gateway.openai(max_retries=0).chat.completions.create(model="gpt-4o", messages=ask("please slow"))
    assert slow.value.status_code == 504
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("please cut"), stream=True
    )
    cut = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in cut if c.choices) == "Hello"
    balance = gateway.balance()
    assert Decimal(balance["balance"]) == FUNDS
    assert Decimal(balance["held"]) == 0, "every hold is voided"
    hold = raw.headers["x-tally-authorization"]
    flagged = gateway.event(f"gw.openai.{hold}")
    assert flagged["metadata"]["gateway"]["unreported"] == "the provider reported no usage"
    assert flagged["usage"] == {"input_tokens": 0}
    with client(gateway.base) as api:
        assert api.get(f"/v1/authorizations/{hold}").json()["status"] == "voided"
    assert gateway.fake.count() == 4
    assert gateway.metrics() == {"provider_error": 2, "upstream_failed": 1, "flagged": 1}


def test_a_retried_call_is_charged_once(gateway: Gateway) -> None:
    chat = gateway.openai(max_retries=2).chat.completions.create(model="gpt-4o", messages=ask("please fail-once r1"))
    assert chat.choices[0].message.content == "Hello there"
    assert gateway.fake.count("fail-once") == 2, "the SDK retried the provider's 500"
    for _ in range(2):  # the provider answers twice with the same response id
        gateway.openai().chat.completions.create(model="gpt-4o", messages=ask("please repeat"))
    balance = gateway.balance()
    assert Decimal(balance["balance"]) == FUNDS - 2 * charge("gpt-4o", CHAT_UNITS)
    assert Decimal(balance["held"]) == 0


def test_streams_pass_events_as_they_come_and_a_client_gone_is_charged_what_the_provider_reports(
    gateway: Gateway,
) -> None:
    stream = gateway.openai(timeout=30).chat.completions.create(
        model="gpt-4o", messages=ask("please hold h1"), stream=True
    )
    first = [next(stream), next(stream)]  # the provider holds the rest until told: nothing is buffered
    assert first[1].choices[0].delta.content == "Hel"
    # While the call is in flight its estimate is held: "user" and "please hold h1" are 18 characters,
    # 6 tokens at 3 a token, + 4 for the message; no max_tokens, so 1,024 output tokens.
    assert Decimal(gateway.balance()["held"]) == charge("gpt-4o", {"input_tokens": 10, "output_tokens": 1024})
    gateway.fake.release("h1")
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "lo there"
    with gateway.anthropic().messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=ask("please hold h2")
    ) as gone:
        for text in gone.text_stream:
            assert text == "Hel"
            break  # the client goes away mid-answer
    gateway.fake.release("h2")
    expected = charge("gpt-4o", CHAT_UNITS) + charge("claude-sonnet-4-6", MESSAGE_UNITS)

    def settled() -> dict[str, Any] | None:
        balance = gateway.balance()
        return balance if Decimal(balance["balance"]) == FUNDS - expected else None

    balance = wait_for(settled, timeout=30)
    assert balance is not None, gateway.balance()
    assert Decimal(balance["held"]) == 0


def test_a_call_may_carry_more_than_other_requests_up_to_the_gateways_own_limit(gateway: Gateway) -> None:
    def picture(size: int) -> list[Any]:
        url = "data:image/png;base64," + "A" * size
        return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]

    sdk = gateway.openai(max_retries=0)
    chat = sdk.chat.completions.create(model="gpt-4o", messages=picture(2 * MIB))  # over the 1 MiB of other requests
    assert chat.choices[0].message.content == "Hello there"
    with pytest.raises(openai.APIStatusError) as too_large:
        sdk.chat.completions.create(model="gpt-4o", messages=picture(4 * MIB))
    assert too_large.value.status_code == 413
    assert gateway.fake.count() == 1
    assert Decimal(gateway.balance()["balance"]) == FUNDS - charge("gpt-4o", CHAT_UNITS)
