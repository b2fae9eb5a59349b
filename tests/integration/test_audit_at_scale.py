"""The auditors' tools hold what they keep bounded as the log grows: the
history check keeps nothing per settled usage event, and the comparison of
views reads them a page at a time where the database finds them different."""

import gc
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from application import audit
from application.audit import audit_history
from interfaces.bootstrap import LIVE_PREFIX, Services
from projections import rebuild
from tests.support import event, rates_json, seed

PAGE = 200
WEEK_AGO = datetime(2026, 11, 19, tzinfo=UTC)


def record(services: Services, first: int, count: int) -> None:
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"]
    batch = [
        event(f"e{i}", customer=("acme", "globex")[i % 2], model=models[i % 3]) for i in range(first, first + count)
    ]
    services.app.metering.record_usage(batch)


def test_the_history_check_keeps_nothing_per_settled_usage_event(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(services.app)
    for first in range(0, 2_000, 500):
        record(services, first, 500)
    monkeypatch.setattr(audit, "PAGE", PAGE)
    kept: list[int] = []  # objects alive in the process after each page of the log

    def after_page(_count: int) -> None:
        gc.collect()
        kept.append(len(gc.get_objects()))

    report = audit_history(services.app, after_page)
    assert report.problems == []
    assert report.ratings_checked == report.usage_checked == 2_000
    assert len(kept) >= 10
    # From the second page to the last, 1,600 more usage events were checked;
    # what the audit keeps must not have grown with them (a map of every
    # usage's latest rating would hold thousands of objects more).
    assert kept[-1] - kept[1] < 300, kept


def test_corrections_are_held_against_the_rating_before_them_read_from_the_log(services: Services) -> None:
    """The history check keeps no usage's rating: a re-rating's differences
    are checked against the rating before it, read from the log."""
    seed(services.app)
    record(services, 0, 12)
    services.follower.catch_up()
    halved = [{**r, "price": str(Decimal(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved, "manual")
    services.follower.catch_up()
    rerated = services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="backdated price version")
    assert rerated.rerated == 4  # the gpt-4o usage
    report = audit_history(services.app)
    assert report.problems == []
    assert (report.usage_checked, report.ratings_checked) == (12, 16)


def test_the_streamed_comparison_finds_where_views_differ_across_pages(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(services.app)
    record(services, 0, 60)
    services.follower.catch_up()
    monkeypatch.setattr(rebuild, "COMPARE_PAGE", 7)  # the 120 usage lines span many pages
    decode = services.app.store.mapper.to_domain_event
    recorder, database = services.app.store.recorder, services.database
    assert rebuild.audit_views(recorder, decode, database, LIVE_PREFIX) == []
    with database.snapshot() as cursor:
        cursor.execute(f"SELECT usage_id, unit FROM {LIVE_PREFIX}usage_lines ORDER BY usage_id, unit")
        keys = cursor.fetchall()
    changed, removed = keys[50], keys[90]
    with database.transaction(write=True) as cursor:
        cursor.execute(
            f"UPDATE {LIVE_PREFIX}usage_lines SET cost = ? WHERE usage_id = ? AND unit = ?",
            (Decimal("123.45"), *changed),
        )
    (difference,) = rebuild.audit_views(recorder, decode, database, LIVE_PREFIX)
    assert difference == rebuild.Difference(
        "usage_lines", "120 live rows vs 120 replayed (+0); first difference at row 50"
    )
    with database.transaction(write=True) as cursor:
        cursor.execute(f"DELETE FROM {LIVE_PREFIX}usage_lines WHERE usage_id = ? AND unit = ?", tuple(removed))
    (difference,) = rebuild.audit_views(recorder, decode, database, LIVE_PREFIX)
    assert difference.detail == "119 live rows vs 120 replayed (-1); first difference at row 50"


def test_money_written_with_other_trailing_zeros_is_no_difference(services: Services) -> None:
    seed(services.app)
    record(services, 0, 6)
    services.follower.catch_up()
    with services.database.transaction(write=True) as cursor:
        cursor.execute(f"SELECT usage_id, unit, cost FROM {LIVE_PREFIX}usage_lines ORDER BY usage_id LIMIT 1")
        usage_id, unit, cost = cursor.fetchone()
        widened = f"{Decimal(cost):f}" + ("000" if "." in f"{Decimal(cost):f}" else ".000")
        cursor.execute(
            f"UPDATE {LIVE_PREFIX}usage_lines SET cost = ? WHERE usage_id = ? AND unit = ?",
            (widened, usage_id, unit),
        )
    decode = services.app.store.mapper.to_domain_event
    assert rebuild.audit_views(services.app.store.recorder, decode, services.database, LIVE_PREFIX) == []
