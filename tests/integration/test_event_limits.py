"""A batch's bad events are answered one by one on both stores: text that is
not valid Unicode and metadata beyond the limits are rejected alone, the
rest is recorded and projected; repeats of an id answer to the stored body
first, to the batch's first copy otherwise."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from application import usage_input
from application.event_limits import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_KEYS,
    MAX_METADATA_TEXT_LENGTH,
)
from application.results import UsageResult
from interfaces.bootstrap import Services
from interfaces.rest.app import create_app
from tests.support import ADMIN_KEY, event, expected_charge, seed


def nested(depth: int) -> dict[str, Any]:
    """Metadata whose objects and arrays nest `depth` levels, itself the first."""
    value: Any = []
    for _ in range(depth - 2):
        value = [value]
    return {"k": value}


def answers(results: list[UsageResult]) -> list[str]:
    return [result.status if result.error is None else result.error["code"] for result in results]


def wide(keys: int) -> dict[str, Any]:
    return {"group": {f"k{index}": index for index in range(keys - 1)}}


POISON: list[tuple[str, dict[str, Any]]] = [
    ("surrogate-value", {"metadata": {"note": "\ud800"}}),
    ("surrogate-key", {"metadata": {"\udfff": 1}}),
    ("surrogate-nested", {"metadata": {"a": [{"b": "x\ud83d"}]}}),
    ("surrogate-provider", {"provider": "open\ud800ai"}),
    ("surrogate-model", {"model": "\ud800"}),
    ("surrogate-feature", {"feature": "chat\udc00"}),
    ("surrogate-unit", {"usage": {"\ud800": 1}}),
    ("surrogate-field", {"\ud800": 1}),
    ("too-deep", {"metadata": nested(MAX_METADATA_DEPTH + 1)}),
    ("very-deep", {"metadata": nested(950)}),
    ("too-many-keys", {"metadata": wide(MAX_METADATA_KEYS + 1)}),
    ("too-large", {"metadata": {f"k{i}": "x" * 2000 for i in range(MAX_METADATA_BYTES // 2000 + 1)}}),
    ("long-key", {"metadata": {"k" * (MAX_METADATA_KEY_LENGTH + 1): 1}}),
    ("long-text", {"metadata": {"k": "x" * (MAX_METADATA_TEXT_LENGTH + 1)}}),
    ("reserved", {"metadata": {"x": {"_type_": "nope", "_data_": 1}}}),
    ("reserved-decimal", {"metadata": {"_type_": "decimal_str", "_data_": "not a number"}}),
    ("infinite", {"metadata": {"x": float("inf")}}),
    ("not-an-object", {"metadata": "text"}),
]


def test_each_poisonous_event_is_rejected_alone_and_the_rest_recorded(services: Services) -> None:
    seed(services.app)
    batch: list[Any] = [event("good-1")]
    batch += [{**event(name), **change} for name, change in POISON]
    batch.append(event("good-2", input_tokens=5))
    results = services.app.metering.record_usage(batch)
    assert answers(results) == ["accepted"] + ["validation_error"] * len(POISON) + ["accepted"]
    for result in results[1:-1]:
        assert result.error is not None and result.error["detail"], result
        "".join(str(part) for part in result.error.values()).encode("utf-8")  # answerable as UTF-8 JSON
    services.follower.catch_up()
    charged = expected_charge(event("good-1"))[1] + expected_charge(event("good-2", input_tokens=5))[1]
    assert services.queries.balance("acme", "USD")[0] == Decimal("100") - charged
    assert services.app.metering.find_usage("acme", "too-deep") is None


def test_metadata_at_every_limit_is_recorded_and_read_back(services: Services) -> None:
    seed(services.app)
    at_limits = {
        "deep": nested(MAX_METADATA_DEPTH)["k"],
        "key" + "k" * (MAX_METADATA_KEY_LENGTH - 3): "x" * MAX_METADATA_TEXT_LENGTH,
        "many": {f"k{index}": index for index in range(MAX_METADATA_KEYS - 4)},
        "unicode": "日本語 🎉",
    }
    assert answers(services.app.metering.record_usage([{**event("edge"), "metadata": at_limits}])) == ["accepted"]
    found = services.app.metering.find_usage("acme", "edge")
    assert found is not None and found.metadata == at_limits


@pytest.mark.parametrize(
    ("stored", "batch", "expected"),
    [
        # the stored body stands over the batch's first copy
        (True, ["changed", "same"], ["conflict", "duplicate"]),
        (True, ["changed", "changed"], ["conflict", "conflict"]),
        (True, ["same", "changed", "same"], ["duplicate", "conflict", "duplicate"]),
        # an id new to the store: later copies answer to the first
        (False, ["changed", "same"], ["accepted", "conflict"]),
        (False, ["same", "same", "changed"], ["accepted", "duplicate", "conflict"]),
    ],
)
def test_repeats_of_an_id_answer_to_the_stored_body_first(
    services: Services, stored: bool, batch: list[str], expected: list[str]
) -> None:
    seed(services.app)
    bodies = {"same": event("e1"), "changed": event("e1", input_tokens=999)}
    if stored:
        assert answers(services.app.metering.record_usage([bodies["same"]])) == ["accepted"]
    assert answers(services.app.metering.record_usage([bodies[name] for name in batch])) == expected
    services.follower.catch_up()
    first = bodies["same"] if stored else bodies[batch[0]]
    assert services.queries.balance("acme", "USD")[0] == Decimal("100") - expected_charge(first)[1]


def test_an_event_stored_before_the_limits_is_read_with_its_deep_metadata_withheld(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metadata 260 to 945 levels deep was stored, and its event then answered
    500 on every read: the event is answered, the metadata withheld."""
    seed(services.app)
    monkeypatch.setattr(usage_input, "metadata_problem", lambda metadata: None)  # as before the limits
    legacy = [{**event("legacy-300"), "metadata": nested(300)}, {**event("legacy-20"), "metadata": nested(20)}]
    assert answers(services.app.metering.record_usage(legacy)) == ["accepted", "accepted"]
    with TestClient(create_app(services), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
        deep = api.get("/v1/events/acme/legacy-300")
        assert deep.status_code == 200, deep.text
        assert deep.json()["metadata"] == {} and "nested more than" in deep.json()["metadata_withheld"]
        assert deep.json()["usage"] == event("legacy-300")["usage"]
        shallow = api.get("/v1/events/acme/legacy-20").json()
        assert shallow["metadata"] == nested(20) and "metadata_withheld" not in shallow


def test_an_event_stored_with_reserved_keys_in_its_metadata_is_projected_and_read(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metadata objects shaped like the event store's transcoded values were
    stored, then stopped the read model's follower and failed every read."""
    seed(services.app)
    monkeypatch.setattr(usage_input, "metadata_problem", lambda metadata: None)  # as before the limits
    shapes = [
        {"x": {"_type_": "nope", "_data_": 1}},
        {"_type_": "uuid_hex", "_data_": 5},
        {"_type_": "decimal_str", "_data_": "not a number"},
        {"_type_": "datetime_iso", "_data_": ["2026"]},
    ]
    legacy = [{**event(f"legacy-{index}"), "metadata": shape} for index, shape in enumerate(shapes)]
    assert answers(services.app.metering.record_usage(legacy)) == ["accepted"] * len(shapes)
    services.follower.catch_up()
    charged = sum((expected_charge(body)[1] for body in legacy), Decimal(0))
    assert services.queries.balance("acme", "USD")[0] == Decimal("100") - charged
    with TestClient(create_app(services), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
        for index, shape in enumerate(shapes):
            found = api.get(f"/v1/events/acme/legacy-{index}")
            assert found.status_code == 200 and found.json()["metadata"] == shape, found.text
