"""Usage in a provider's own format through a real server: mapped, charged,
kept as sent; a bad object rejects its event and not its batch."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, expected_charge, just_now


def test_openai_and_anthropic_usage_objects_over_http(server: str) -> None:
    moment = just_now()
    openai_usage = {"prompt_tokens": 1200, "completion_tokens": 350, "prompt_tokens_details": {"cached_tokens": 1000}}
    anthropic_usage = {"input_tokens": 7, "output_tokens": 9, "cache_read_input_tokens": None}
    batch = [
        {**event("o1", timestamp=moment), "usage": openai_usage, "usage_format": "openai"},
        {**event("bad", timestamp=moment), "usage": {"prompt_tokens": -1}, "usage_format": "openai"},
        {
            **event("a1", model="claude-sonnet-4-5", timestamp=moment),
            "usage": anthropic_usage,
            "usage_format": "anthropic",
        },
    ]
    with client(server) as api:
        setup_catalog(api)
        answer = api.post("/v1/events", json={"events": batch})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [result["status"] for result in results] == ["accepted", "rejected", "accepted"]
        assert results[1]["error"]["code"] == "validation_error"
        stored = api.get("/v1/events/acme/o1").json()
        assert stored["usage"] == {"input_tokens": 200, "cached_input_tokens": 1000, "output_tokens": 350}
        assert stored["metadata"]["provider_usage"] == {"format": "openai", "usage": openai_usage}
        same_as = [
            event("x", input_tokens=200, cached_input_tokens=1000, output_tokens=350),
            event("y", model="claude-sonnet-4-5", input_tokens=7, output_tokens=9),
        ]
        charged = sum((expected_charge(body)[1] for body in same_as), Decimal(0))
        assert Decimal(consistent_balance(api, "acme")["balance"]) == Decimal("25") - charged
