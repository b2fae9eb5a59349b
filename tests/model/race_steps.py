"""Steps that race the server's own asynchronous work on purpose.

A usage batch sent at the same moment as a price version that changes how
it rates: which of the two the server handles first is not known, so the
batch's unpriced warnings may go either way and the model accepts both;
the final ratings may not (a usage's final rating depends only on the event
and the versions published, whatever the order they arrived in), and the
next agreement holds the server to them, also when the server restarts at
once, before the version watcher's settling pass was due.

A usage batch, then at once an authorization for an amount the wallet
covered before the batch and no longer covers after it: an authorization
counts every usage whose POST answered before it arrived, whether or not
the read model has applied it yet."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.model import authorization_model
from tests.model.catalog_steps import next_price_version, price_version_published
from tests.model.metering_steps import expected_result
from tests.model.money_steps import ask_authorization
from tests.model.run_state import Run

RACING_EVENTS = (5, 40)
ZERO = Decimal(0)


def usage_racing_a_version(run: Run) -> None:
    batch: list[dict[str, Any]] = [
        run.workload.usage_event(run.rng.choice(run.customers()), run.version_moments, None)
        for _ in range(run.rng.randint(*RACING_EVENTS))
    ]
    version, body = next_price_version(run, "default")
    usage_answer, version_answer = run.session.post_concurrently(
        [("/v1/events", {"events": batch}), ("/v1/price-books/default/versions", body)]
    )
    assert usage_answer.status_code == 200, usage_answer.text
    now = datetime.now(UTC)
    # Recorded before the version in the model, so that each usage's charge may show
    # its rating at either side of the version until the next agreement.
    for event, result in zip(batch, usage_answer.json()["results"], strict=True):
        expected = expected_result(run, event, now)
        assert result["status"] == expected["status"], f"event {event}: model {expected}, server {result}"
    price_version_published(run, "default", version, version_answer)
    if run.rng.random() < 0.3:  # within the settling pass's few seconds: it must survive the restart
        run.session.stop()
        run.session.start()
        run.counts["usage batch racing a price version, then a restart"] += 1
    else:
        run.counts["usage batch racing a price version"] += 1


def spend_then_authorize(run: Run) -> None:
    customer = run.rng.choice(run.prepaid())
    before = authorization_model.available(run.model, customer, authorization_model.Window.at(datetime.now(UTC)))
    batch = [run.workload.usage_event(customer, run.version_moments, None) for _ in range(run.rng.randint(3, 15))]
    now = datetime.now(UTC)
    answer = run.session.post("/v1/events", {"events": batch})
    assert answer.status_code == 200, answer.text
    for event, result in zip(batch, answer.json()["results"], strict=True):
        expected = expected_result(run, event, now)
        assert result["status"] == expected["status"], f"event {event}: model {expected}, server {result}"
    after = authorization_model.available(run.model, customer, authorization_model.Window.at(datetime.now(UTC)))
    amount = ((before.low + after.high) / 2).quantize(Decimal("1e-12"))
    if not (ZERO < amount <= before.low and amount > after.high):
        return  # the batch charged nothing certain, or nothing was available before it
    shown = ask_authorization(run, customer, amount)
    run.counts[f"usage then at once an authorization it no longer covers: {shown}"] += 1
