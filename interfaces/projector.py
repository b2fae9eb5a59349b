"""Where the projection follower runs.

- thread: inside the server process (SQLite's default: one process, and the
  in-process wake-up gives the lowest lag);
- process: in a child process beside the server (PostgreSQL's default), so
  the follower has a core of its own instead of sharing the server's
  interpreter lock: measured end to end, 8,671 events/s against 5,484 with
  the follower as a thread (docs/performance.md);
- off: not here; another process (`tally project`, or a server with a
  projector) applies the pages.

A projector process reports its follower's health to the server through
shared memory (interfaces/shared_part_health.py): its failures count in the
server's /healthz and /metrics as if it ran there.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.process import BaseProcess

from infrastructure.settings import Settings
from interfaces.projector_main import run_projector
from interfaces.shared_part_health import SharedPartHealth
from projections.follower import PART_NAME


def resolve_mode(settings: Settings, store_kind: str) -> str:
    if not settings.follower:
        return "off"
    if settings.projector != "auto":
        return settings.projector
    return "process" if store_kind == "postgresql" else "thread"


def start_projector_process(settings: Settings) -> tuple[BaseProcess, SharedPartHealth]:
    """The child process and the health record its follower writes."""
    context = multiprocessing.get_context("spawn")
    health = SharedPartHealth(PART_NAME, context)
    process = context.Process(
        target=run_projector,
        args=(settings.model_dump(), os.getpid(), health),
        name="tally-projector",
        daemon=True,
    )
    process.start()
    return process, health


def stop_projector_process(process: BaseProcess | None) -> None:
    if process is None or not process.is_alive():
        return
    process.terminate()
    process.join(timeout=10)
    if process.is_alive():
        process.kill()
