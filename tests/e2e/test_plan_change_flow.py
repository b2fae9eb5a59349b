"""Through a real server on both stores: PATCH /v1/customers/{id} moves a
customer to another plan from that moment on. Usage before the change stays
on the old plan, also when it arrives after the change and when a backdated
price version re-rates it afterwards; usage timestamped after the change,
even recorded before it, is on the new plan. `tally audit` agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx

from domain.money import format_amount
from tests.e2e.server import client, projected, wait_for
from tests.e2e.test_cli import tally
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import Q12, event, expected_charge, rates_json

WAIT_SECONDS = 30
PRO, SCALE = Decimal(20), Decimal(50)
HALF = Decimal("0.5")


def charge(body: dict[str, Any], markup: Decimal, price_share: Decimal = Decimal(1)) -> Decimal:
    cost = expected_charge(body)[0] * price_share
    return (cost + cost * markup / 100).quantize(Q12, rounding=ROUND_HALF_EVEN)


def rated(api: httpx.Client, event_id: str) -> tuple[str, int, Decimal] | None:
    """The plan, price version and charge of a usage's latest rating."""
    rating = api.get(f"/v1/events/acme/{event_id}").json()["rating"]
    return None if rating is None else (rating["plan"], rating["price_version"], Decimal(rating["charge"]))


def balance(api: httpx.Client) -> str:
    return str(api.get("/v1/customers/acme/balance").json()["balance"])


def test_a_plan_change_takes_effect_from_its_moment_through_every_rerating(server: str, database_url: str) -> None:
    with client(server) as api:
        setup_catalog(api)  # acme on pro, 25 granted
        scale = {"id": "scale", "price_book": "default", "markup_percent": "50"}
        assert api.post("/v1/plans", json=scale).status_code == 201
        now = datetime.now(UTC)
        before = event("before", timestamp=(now - timedelta(seconds=2)).isoformat())
        ahead = event("ahead", timestamp=(now + timedelta(minutes=2)).isoformat())  # within the five minutes allowed
        recorded = api.post("/v1/events", json={"events": [before, ahead]})
        assert [result["status"] for result in recorded.json()["results"]] == ["accepted", "accepted"]
        assert rated(api, "ahead") == ("pro", 1, charge(ahead, PRO))

        changed = api.patch("/v1/customers/acme", json={"plan": "scale"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["plan"] == "scale"
        late = event("late", timestamp=before["timestamp"])  # from before the change, arriving after it
        after = event("after", timestamp=(datetime.now(UTC) + timedelta(seconds=1)).isoformat())
        recorded = api.post("/v1/events", json={"events": [late, after]})
        assert [result["status"] for result in recorded.json()["results"]] == ["accepted", "accepted"]
        assert rated(api, "late") == ("pro", 1, charge(late, PRO))
        assert rated(api, "after") == ("scale", 1, charge(after, SCALE))
        assert wait_for(lambda: rated(api, "ahead") == ("scale", 1, charge(ahead, SCALE)), WAIT_SECONDS)

        halved = [{**r, "price": str(Decimal(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]
        published = api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2026-01-02T00:00:00Z", "rates": halved}
        )
        assert published.status_code == 201, published.text
        expected = {
            "before": ("pro", 2, charge(before, PRO, HALF)),
            "late": ("pro", 2, charge(late, PRO, HALF)),
            "ahead": ("scale", 2, charge(ahead, SCALE, HALF)),
            "after": ("scale", 2, charge(after, SCALE, HALF)),
        }
        assert wait_for(lambda: {name: rated(api, name) for name in expected} == expected, WAIT_SECONDS), {
            name: rated(api, name) for name in expected
        }
        owed = sum((amount for _, _, amount in expected.values()), Decimal(0))
        assert wait_for(lambda: balance(api) == format_amount(Decimal(25) - owed), WAIT_SECONDS), balance(api)
        assert projected(api)
        trial = api.get("/v1/ledger/trial-balance").json()["currencies"][0]
        assert trial["debits"] == trial["credits"]
    audited = tally(database_url, "audit")
    assert audited.returncode == 0, audited.stderr
    assert "audit passed" in audited.stderr, audited.stderr
