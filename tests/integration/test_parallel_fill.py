"""A replay's scratch view filled by several processes (spawned workers, each
opening the store itself) equals the live view and a replay by one process,
on both stores; an error in a worker reaches the caller as itself, and the
scratch tables are dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import partial

import pytest

from interfaces.bootstrap import LIVE_PREFIX, Services
from interfaces.following import open_log_source
from projections import parallel_fill, rebuild
from projections.parallel_fill import ParallelFill
from tests.support import event, gateway_day, rates_json, seed

WEEK_AGO = datetime(2026, 11, 19, tzinfo=UTC)
PAGE = 7  # many pages for three workers, each page's write waiting for the one before


def busy_history(services: Services) -> None:
    """Usage, a gateway's holds (passed over), a backdated price version and
    its re-rating (corrections of ratings made pages before), top-ups."""
    gateway_day(services)  # seeds acme
    for customer in ("globex", "initech"):
        services.app.customers.create_customer(customer, customer.title(), "USD", "pro", "prepaid", 30, None)
        services.app.wallets.top_up(customer, "welcome", "100", "grant", None)
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"]
    usage = [event(f"p{i}", customer=("globex", "initech")[i % 2], model=models[i % 3]) for i in range(120)]
    for first in range(0, len(usage), 40):
        services.app.metering.record_usage(usage[first : first + 40])
    services.follower.catch_up()
    halved = [{**r, "price": str(Decimal(r["price"]) / 2)} if r["model"] == "gpt-4o" else r for r in rates_json()]
    services.app.catalog.publish_price_version("default", WEEK_AGO, halved, "manual")
    services.follower.catch_up()
    assert services.app.rerating.rerate(price_book="default", since=WEEK_AGO, reason="backdated").rerated > 40
    services.app.wallets.top_up("globex", "goodwill", "5.00", "grant", None)
    services.app.metering.record_usage([event("late", customer="globex")])
    services.follower.catch_up()


def filling(database_url: str, workers: int = 3) -> ParallelFill:
    return ParallelFill(partial(open_log_source, database_url), workers, min_events=0)


def scratch_tables(services: Services) -> list[str]:
    with services.database.snapshot() as cursor:
        if services.database.dialect.name == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?", ("scratch_%",))
        else:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name LIKE ?",
                ("scratch_%",),
            )
        return [row[0] for row in cursor.fetchall()]


def test_a_view_filled_by_three_processes_equals_the_live_one(
    services: Services, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_history(services)
    monkeypatch.setattr(rebuild, "REBUILD_PAGE", PAGE)
    filled: list[int] = []
    fill = parallel_fill.fill
    monkeypatch.setattr(parallel_fill, "fill", lambda *args: filled.append(1) or fill(*args))
    progress: list[int] = []
    store = services.app.store
    differences = rebuild.audit_views(
        store.recorder, store.mapper.to_domain_event, services.database, LIVE_PREFIX, progress.append,
        parallel=filling(database_url),
    )  # fmt: skip
    assert differences == []
    assert filled == [1], "the parallel fill ran"
    assert sum(progress) == store.head(), "every event applied is reported"
    assert scratch_tables(services) == []


def test_a_replay_by_three_processes_swaps_in_what_one_process_would_build(
    services: Services, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_history(services)
    monkeypatch.setattr(rebuild, "REBUILD_PAGE", PAGE)
    store = services.app.store
    decode = store.mapper.to_domain_event
    compared: list[tuple[int, list[rebuild.Difference] | None]] = []
    position = rebuild.rebuild(
        store.recorder, decode, services.database, LIVE_PREFIX,
        on_built=lambda follower: compared.append(rebuild.compare_with_live(follower, LIVE_PREFIX)),
        parallel=filling(database_url),
    )  # fmt: skip
    assert position == store.head()
    assert compared == [(position, [])]
    # the swapped-in view, rebuilt once more by this process alone: the same
    assert rebuild.audit_views(store.recorder, decode, services.database, LIVE_PREFIX) == []
    services.app.metering.record_usage([event("after", customer="initech")])
    services.follower.catch_up()  # the live follower goes on from the rebuilt view's position
    assert rebuild.audit_views(store.recorder, decode, services.database, LIVE_PREFIX) == []


def broken_source(detail: str = "") -> None:
    raise OSError(f"no store here{detail}")


@pytest.mark.parametrize("detail", ["", "x" * 200_000], ids=["short", "longer-than-a-pipe-buffer"])
def test_a_worker_that_fails_fails_the_fill_with_its_own_error_and_leaves_no_scratch_tables(
    services: Services, monkeypatch: pytest.MonkeyPatch, detail: str
) -> None:
    busy_history(services)
    monkeypatch.setattr(rebuild, "REBUILD_PAGE", PAGE)
    store = services.app.store
    with pytest.raises(OSError, match="no store here") as raised:
        rebuild.audit_views(
            store.recorder, store.mapper.to_domain_event, services.database, LIVE_PREFIX,
            parallel=ParallelFill(partial(broken_source, detail), 2, min_events=0),  # type: ignore[arg-type]
        )  # fmt: skip
    assert str(raised.value).endswith(detail)
    assert scratch_tables(services) == []


def test_a_short_log_is_filled_by_the_caller_alone(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(services.app)
    services.app.metering.record_usage([event(f"e{i}") for i in range(10)])
    services.follower.catch_up()
    monkeypatch.setattr(parallel_fill, "fill", lambda *_: pytest.fail("no worker for a short log"))
    store = services.app.store
    assert (
        rebuild.audit_views(
            store.recorder, store.mapper.to_domain_event, services.database, LIVE_PREFIX,
            parallel=ParallelFill(broken_source, 4, min_events=1_000),  # type: ignore[arg-type]
        )
        == []
    )  # fmt: skip
