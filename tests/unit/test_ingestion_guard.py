"""The ingestion guard's rule, apart from any store: refused past the limit,
the lag measured at most every CHECK_EVERY_SECONDS."""

from __future__ import annotations

import pytest

from application.ingestion_guard import CHECK_EVERY_SECONDS, IngestionBehind, IngestionGuard


def test_batches_are_refused_only_while_the_views_are_more_than_the_limit_behind() -> None:
    log = {"head": 150, "projected": 100, "reads": 0, "now": 0.0}

    def projected() -> int:
        log["reads"] += 1
        return int(log["projected"])

    guard = IngestionGuard(lambda: int(log["head"]), projected, max_behind=50, monotonic=lambda: float(log["now"]))
    guard.check()  # exactly at the limit: taken
    log["head"] = 151
    guard.check()  # measured a moment ago: not read again
    assert log["reads"] == 1
    log["now"] = CHECK_EVERY_SECONDS
    with pytest.raises(IngestionBehind) as refused:
        guard.check()
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert "51 events behind" in refused.value.detail
    log["projected"], log["now"] = 151, 2 * CHECK_EVERY_SECONDS
    guard.check()  # caught up: taken again
    assert log["reads"] == 3
