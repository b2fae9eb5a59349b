"""Through a real server on both stores: a backdated price version without a
model unprices the usage of that model already rated (the event reads
unpriced, the wallet gets the charge back, the spend drops, the operator is
alerted), and a later version that prices it rates it again, charged once.
`tally audit` names the versions the version watcher has yet to carry out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from application import version_watcher
from domain.money import format_amount
from projections.checkpoints import SqlCheckpoints
from tests.conftest import open_services
from tests.e2e.server import client, wait_for
from tests.e2e.test_cli import tally
from tests.e2e.test_rest_flow import graphql, setup_catalog
from tests.support import event, expected_charge, just_now, rates_json, seed

WAIT_SECONDS = 30


def balance(api: httpx.Client) -> str:
    return str(api.get("/v1/customers/acme/balance").json()["balance"])


def standing(api: httpx.Client) -> dict[str, Any]:
    query = '{ customer(id: "acme") { currentPeriod { spend { amount } } alerts(first: 10) { kind } } }'
    customer: dict[str, Any] = graphql(api, query)["data"]["customer"]
    return customer


def spend(api: httpx.Client) -> Decimal:
    """The period's spend, from the read model: it follows the log, so it may
    trail the balance, which counts every accepted event at once."""
    return Decimal(standing(api)["currentPeriod"]["spend"]["amount"])


def test_a_version_without_the_model_unprices_its_usage_until_one_prices_it_again(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        now = just_now()
        rated, other = event("e1", timestamp=now), event("m1", model="gpt-4o-mini", timestamp=now)
        assert api.post("/v1/events", json={"events": [rated, other]}).status_code == 200
        _, charge = expected_charge(rated)
        _, other_charge = expected_charge(other)
        assert wait_for(lambda: balance(api) == format_amount(Decimal(25) - charge - other_charge), WAIT_SECONDS)

        without = [rate for rate in rates_json() if rate["model"] != "gpt-4o"]
        published = api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2026-01-02T00:00:00Z", "rates": without}
        )
        assert published.status_code == 201, published.text
        assert wait_for(lambda: api.get("/v1/events/acme/e1").json()["status"] == "unpriced", WAIT_SECONDS)
        shown = api.get("/v1/events/acme/e1").json()
        assert shown["rating"] is None and [r["price_version"] for r in shown["ratings"]] == [1]
        assert wait_for(lambda: balance(api) == format_amount(Decimal(25) - other_charge), WAIT_SECONDS)
        unpriced = wait_for(lambda: "unpriced_usage" in [a["kind"] for a in standing(api)["alerts"]], WAIT_SECONDS)
        assert unpriced, standing(api)
        assert wait_for(lambda: spend(api) == other_charge, WAIT_SECONDS), standing(api)  # the view follows the log
        trial = api.get("/v1/ledger/trial-balance").json()["currencies"][0]
        assert trial["debits"] == trial["credits"]

        published = api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2026-01-03T00:00:00Z", "rates": rates_json()}
        )
        assert published.status_code == 201, published.text
        assert wait_for(lambda: api.get("/v1/events/acme/e1").json()["status"] == "rated", WAIT_SECONDS)
        assert [r["price_version"] for r in api.get("/v1/events/acme/e1").json()["ratings"]] == [1, 3]
        assert wait_for(lambda: balance(api) == format_amount(Decimal(25) - charge - other_charge), WAIT_SECONDS)
        assert wait_for(lambda: spend(api) == charge + other_charge, WAIT_SECONDS), standing(api)
        trial = api.get("/v1/ledger/trial-balance").json()["currencies"][0]
        assert trial["debits"] == trial["credits"]


def test_tally_audit_reports_versions_not_yet_carried_out_as_pending(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = open_services(database_url)
    try:
        seed(services.app)
        services.app.metering.record_usage([event("a1")])
        without = [rate for rate in rates_json() if rate["model"] != "gpt-4o"]
        services.app.catalog.publish_price_version("default", datetime(2026, 11, 19, tzinfo=UTC), without, "manual")
        services.follower.catch_up()
        audited = tally(database_url, "audit")
        assert audited.returncode == 0, audited.stderr
        assert (
            "3 versions or plan changes await re-rating" in audited.stderr
            and "1 usage events await it" in audited.stderr
        )

        monkeypatch.setattr(version_watcher, "SETTLE_SECONDS", 0.0)
        monkeypatch.setattr("application.rerating.CATCH_UP_SECONDS", 0.2)  # the follower runs between the steps
        watcher = services.app.version_watcher(SqlCheckpoints(services.database))
        for _ in range(4):  # both passes of the three versions
            services.follower.catch_up()
            watcher.step()
        services.follower.catch_up()
    finally:
        services.close()
    audited = tally(database_url, "audit")
    assert audited.returncode == 0, audited.stderr
    assert "await re-rating" not in audited.stderr and "audit passed" in audited.stderr
