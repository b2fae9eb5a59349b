"""Usage sent in a provider's own format, recorded and rated on SQLite and PostgreSQL."""

from decimal import Decimal
from typing import Any

from interfaces.bootstrap import Services
from tests.support import event, expected_charge, seed

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 350,
    "total_tokens": 1550,
    "prompt_tokens_details": {"cached_tokens": 1000},
}


def native(event_id: str, usage: dict[str, Any], usage_format: str = "openai", **fields: Any) -> dict[str, Any]:
    return {**event(event_id, **fields), "usage": usage, "usage_format": usage_format}


def test_native_usage_is_charged_as_its_tally_units_and_kept_as_sent(services: Services) -> None:
    seed(services.app)
    batch = [
        native("n1", OPENAI_USAGE),
        native("n2", {"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 6}}),
        native(
            "n3",
            {"input_tokens": 7, "output_tokens": 9, "cache_read_input_tokens": 0},
            "anthropic",
            model="claude-sonnet-4-5",
        ),
        native("n1", OPENAI_USAGE),
    ]
    results = services.app.metering.record_usage(batch)
    assert [result.status for result in results] == ["accepted", "rejected", "accepted", "duplicate"]
    assert results[1].as_dict()["error"]["code"] == "validation_error"
    same_as = [
        event("x1", input_tokens=200, cached_input_tokens=1000, output_tokens=350),
        event("x3", model="claude-sonnet-4-5", input_tokens=7, output_tokens=9),
    ]
    services.follower.catch_up()
    balance = services.queries.balance("acme", "USD")[0]
    assert balance == Decimal(100) - sum((expected_charge(body)[1] for body in same_as), Decimal(0))
    stored = services.app.metering.find_usage("acme", "n1")
    assert stored is not None
    assert stored.usage == {"input_tokens": 200, "cached_input_tokens": 1000, "output_tokens": 350}
    assert stored.metadata["provider_usage"] == {"format": "openai", "usage": OPENAI_USAGE}
    changed = services.app.metering.record_usage([native("n1", {**OPENAI_USAGE, "completion_tokens": 351})])
    assert changed[0].status == "rejected"
    assert changed[0].as_dict()["error"]["code"] == "conflict"
