"""--profile: cProfile of the application-layer path, recording and projecting
profiled apart (the follower is stopped, then caught up in this thread)."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from pathlib import Path

from bench.ingest import open_seeded
from bench.workload import Event, batches

TOP = 30


def profile_ingest(url: str, events: list[Event], customers: int, batch: int, dump: Path) -> str:
    """Returns the top functions; the full stats go to `dump`-record.prof and `dump`-project.prof."""
    services = open_seeded(url, customers, start_follower=False)
    try:
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for chunk in batches(events, batch):
            services.app.metering.record_usage(chunk)
        profiler.disable()
        recorded = time.perf_counter() - start
        projector = cProfile.Profile()
        start = time.perf_counter()
        projector.enable()
        services.follower.catch_up()
        projector.disable()
        projected = time.perf_counter() - start
    finally:
        services.close()
    profiler.dump_stats(f"{dump}-record.prof")
    projector.dump_stats(f"{dump}-project.prof")
    return (
        f"record: {len(events)} events in {recorded:.2f} s under cProfile\n{_top(profiler)}\n"
        f"project (catch_up): {projected:.2f} s under cProfile\n{_top(projector)}"
    )


def _top(profiler: cProfile.Profile) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(TOP)
    stats.sort_stats("tottime").print_stats(TOP)
    return out.getvalue()
