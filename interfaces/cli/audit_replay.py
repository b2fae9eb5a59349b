"""The audit's replay into scratch tables, in a process of its own: it runs
beside the check of the history (a core each), so `tally audit` takes about
as long as the longer of the two rather than their sum. The child opens the
same store with the same settings, brings the live view up to the log,
replays into scratch and sends back the differences it found."""

from __future__ import annotations

import multiprocessing
import signal
import sys
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized

from infrastructure.settings import Settings
from interfaces.bootstrap import LIVE_PREFIX, Services, bootstrap
from interfaces.following import scratch_fill
from interfaces.start_up import freeze_start_up
from projections import rebuild
from projections.follower import Progress
from projections.parallel_fill import ParallelFill

PROJECTABLE_ERRORS = (AssertionError, ValueError, KeyError, TypeError, ArithmeticError)


def replay_differences(
    services: Services, progress: Progress | None = None, parallel: ParallelFill | None = None
) -> list[rebuild.Difference]:
    """Bring the live view up to the log, replay into scratch and compare; a
    history that cannot even be projected is a difference, not a crash."""
    try:
        services.follower.catch_up()
        return rebuild.audit_views(
            services.app.store.recorder,
            services.app.store.mapper.to_domain_event,
            services.database,
            LIVE_PREFIX,
            progress,
            parallel=parallel,
        )
    except PROJECTABLE_ERRORS as error:
        return [rebuild.Difference("(replay)", f"the history cannot be projected: {error!r}")]


def _child(settings_fields: dict[str, object], replayed: Synchronized[int], answer: Connection) -> None:
    def advance(count: int) -> None:
        with replayed.get_lock():
            replayed.value += count

    # Stopped by the parent (its history check failed): unwind, so the scratch tables are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        settings = Settings.model_validate(settings_fields)
        services = bootstrap(settings, start_follower=False)
        freeze_start_up()
        try:
            found = [(d.table, d.detail) for d in replay_differences(services, advance, scratch_fill(settings))]
        finally:
            services.close()
    except Exception as error:  # the parent reports it as a difference; the audit fails, it does not hang
        found = [("(replay)", f"the replay into scratch failed: {error!r}")]
    answer.send(found)
    answer.close()


class BackgroundReplay:
    """The replay into scratch, started at once, its answer awaited later."""

    def __init__(self, settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")
        self._replayed: Synchronized[int] = context.Value("q", 0)
        self._answer, answer = context.Pipe(duplex=False)
        self._process = context.Process(
            # not a daemon: it starts workers of its own (a parallel fill); stop() ends it
            target=_child,
            args=(settings.model_dump(), self._replayed, answer),
            name="tally-audit-replay",
        )
        self._process.start()
        answer.close()

    @property
    def replayed(self) -> int:
        """Events replayed into scratch so far."""
        return int(self._replayed.value)

    def ready(self, timeout: float) -> bool:
        return self._answer.poll(timeout)

    def differences(self) -> list[rebuild.Difference]:
        try:
            found = [rebuild.Difference(table, detail) for table, detail in self._answer.recv()]
        except EOFError:
            self._process.join(timeout=10)
            found = [
                rebuild.Difference("(replay)", f"the replay into scratch stopped (exit code {self._process.exitcode})")
            ]
        self._process.join(timeout=10)
        return found

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)
