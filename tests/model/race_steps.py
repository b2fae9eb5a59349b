"""Steps that race on purpose: a usage batch sent at the same moment as a
price version that changes how it rates. Which of the two the server
handles first is not known, so the batch's unpriced warnings may go either
way and the model accepts both; the final ratings may not (a usage's final
rating depends only on the event and the versions published, whatever the
order they arrived in), and the next agreement holds the server to them,
also when the server restarts at once, before the version watcher's
settling pass was due."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.model.catalog_steps import next_price_version, price_version_published
from tests.model.metering_steps import expected_result
from tests.model.run_state import Run

RACING_EVENTS = (5, 40)


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
