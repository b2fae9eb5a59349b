"""A step loop's health bookkeeping and the rules that turn a part red: a
fake step and a hand-moved clock, no threads except where the loop's own
thread is the point."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from typing import Any

import pytest

from interfaces.shared_part_health import SharedPartHealth
from projections.loop import StepLoop, stop_loops
from projections.part_health import HealthLimits, PartHealth, PartState, ProgressWatch, judge

LIMITS = HealthLimits(failures_in_a_row=3, step_seconds=600, stall_seconds=30)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ScriptedStep:
    """Answers each call with the next outcome: a count, or an error to raise."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = list(outcomes)

    def __call__(self) -> int:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def loop_of(*outcomes: int | Exception, clock: Clock | None = None) -> StepLoop:
    health = PartHealth("dunning", clock or Clock())
    return StepLoop(ScriptedStep(*outcomes), "dunning", 0.5, health)


def test_failures_in_a_row_are_counted_and_a_success_clears_them() -> None:
    clock = Clock()
    loop = loop_of(RuntimeError("card network down"), RuntimeError("still down"), 2, clock=clock)
    assert loop.run_once() == -1
    clock.now += 1
    assert loop.run_once() == -1
    failed = loop.health.state()
    assert (failed.consecutive_failures, failed.failures_total, failed.steps_total) == (2, 2, 2)
    assert (failed.error_type, failed.error_message) == ("RuntimeError", "still down")
    assert failed.last_failure_at == clock.now and failed.last_success_at is None

    clock.now += 1
    assert loop.run_once() == 2
    recovered = loop.health.state()
    assert (recovered.consecutive_failures, recovered.failures_total, recovered.steps_total) == (0, 2, 3)
    assert recovered.last_success_at == recovered.last_progress_at == clock.now
    assert recovered.error_type == "RuntimeError", "the last error stays on record after recovery"


def test_an_idle_step_succeeds_without_progress() -> None:
    clock = Clock()
    loop = loop_of(3, 0, clock=clock)
    loop.run_once()
    worked_at = clock.now
    clock.now += 5
    loop.run_once()
    state = loop.health.state()
    assert state.last_success_at == worked_at + 5 and state.last_progress_at == worked_at


def test_an_error_is_one_bounded_line() -> None:
    loop = loop_of(ValueError("relation does not exist\nLINE 1: SELECT ...\n" + "x" * 10))
    loop.run_once()
    assert loop.health.state().error_message == "relation does not exist"
    long = loop_of(ValueError("y" * 5000))
    long.run_once()
    assert len(long.health.state().error_message) == 300


def test_red_after_the_configured_failures_in_a_row() -> None:
    clock = Clock()
    loop = loop_of(*[OSError("disk full")] * 3, 1, clock=clock)
    verdicts = []
    for _ in range(4):
        loop.run_once()
        verdicts.append(judge(loop.health.state(), LIMITS, clock.now))
    assert [verdict.status for verdict in verdicts] == ["retrying", "retrying", "failing", "ok"]
    assert [verdict.healthy for verdict in verdicts] == [True, True, False, True]
    assert verdicts[2].reason == "3 steps failed in a row (OSError: disk full)"


def test_a_step_running_too_long_is_a_stall() -> None:
    clock = Clock()
    health = PartHealth("version-watcher", clock)
    health.loop_started()
    health.step_started()
    clock.now += 599
    assert judge(health.state(), LIMITS, clock.now).healthy
    clock.now += 1
    verdict = judge(health.state(), LIMITS, clock.now)
    assert verdict.status == "stalled" and verdict.reason == "one step has been running for 600 s"
    health.step_succeeded(1)
    assert judge(health.state(), LIMITS, clock.now).healthy


def test_a_loop_that_ends_by_itself_has_stopped_and_one_told_to_stop_is_gone() -> None:
    ended = PartHealth("alerts")
    ended.loop_started()
    ended.loop_exited(deliberately=False)
    assert judge(ended.state(), LIMITS, 0).status == "stopped"
    told = PartHealth("alerts")
    told.loop_started()
    told.loop_exited(deliberately=True)
    assert not told.state().started and judge(told.state(), LIMITS, 0).healthy


def test_the_thread_records_failures_and_keeps_stepping() -> None:
    """The loop's own thread: a failing step is retried, never ends the loop."""
    calls = threading.Semaphore(0)

    def failing() -> int:
        calls.release()
        raise RuntimeError("broken")

    loop = StepLoop(failing, "webhooks", 0.01)
    loop.start()
    try:
        for _ in range(2):
            assert calls.acquire(timeout=30)
        assert loop.health.state().running
    finally:
        stop_loops([loop])
    state = loop.health.state()
    assert state.consecutive_failures >= 1 and not state.running and not state.started


def test_the_progress_watch_sees_work_waiting_at_an_unmoved_position() -> None:
    clock = Clock()
    watch = ProgressWatch(clock)
    assert watch.waited_seconds(position=10, head=10) == 0  # nothing waits
    clock.now += 100
    assert watch.waited_seconds(position=10, head=12) == 0, "work seen for the first time: no stall yet"
    clock.now += 29
    assert watch.waited_seconds(position=10, head=15) == 29
    clock.now += 5
    assert watch.waited_seconds(position=12, head=15) == 0, "the position moved"
    clock.now += 31
    assert watch.waited_seconds(position=12, head=15) == 31
    assert watch.waited_seconds(position=15, head=15) == 0, "caught up"
    clock.now += 40
    assert watch.waited_seconds(position=15, head=16) == 0, "the idle time before the work came does not count"


@pytest.mark.parametrize("limits", [(0, 1.0, 1.0), (1, 0.0, 1.0), (1, 1.0, -1.0)])
def test_health_limits_are_positive(limits: tuple[int, float, float]) -> None:
    with pytest.raises(ValueError, match="health limits must be positive"):
        HealthLimits(*limits)


def write_failures(health: SharedPartHealth) -> None:
    health.loop_started()
    health.step_succeeded(4)
    health.step_failed(KeyError("gone é"))
    health.step_started()


def test_a_child_process_shares_its_record_with_the_parent() -> None:
    context = multiprocessing.get_context("spawn")
    health = SharedPartHealth("follower", context)
    assert health.state() == PartState("follower")
    child = context.Process(target=write_failures, args=(health,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    state = health.state()
    assert state.started and state.running
    assert (state.consecutive_failures, state.failures_total, state.steps_total) == (1, 1, 2)
    assert (state.error_type, state.error_message) == ("KeyError", "'gone é'")
    assert state.last_success_at is not None and state.last_progress_at is not None
    assert state.step_started_at is not None and state.last_failure_at is not None


def take_lock_and_wait(health: SharedPartHealth, taken: Any) -> None:
    health._shared_lock.acquire()
    taken.set()
    time.sleep(600)


def test_a_process_killed_holding_the_shared_lock_does_not_hang_its_readers() -> None:
    """A projector killed in the moment it writes its record leaves the lock
    taken for good: readers (the server's /healthz) still answer."""
    context = multiprocessing.get_context("spawn")
    health = SharedPartHealth("follower", context)
    taken = context.Event()
    child = context.Process(target=take_lock_and_wait, args=(health, taken))
    child.start()
    try:
        assert taken.wait(timeout=60)
    finally:
        child.kill()
        child.join(timeout=60)
    answers: list[PartState] = []
    reader = threading.Thread(target=lambda: answers.append(health.state()), daemon=True)
    reader.start()
    reader.join(timeout=30)  # a deadline for a hang, not a measure of speed
    assert answers == [PartState("follower")]
    health.step_failed(RuntimeError("written all the same"))
    assert health.state().error_message == "written all the same"


class CountedSteps:
    """A step that counts its calls and answers `done` each time; `during`
    runs inside the step (a wake-up arriving while it works)."""

    def __init__(self, done: int) -> None:
        self.done = done
        self.calls = threading.Semaphore(0)
        self.count = 0
        self.during: Any = None

    def __call__(self) -> int:
        self.count += 1
        if self.during is not None:
            self.during()
            self.during = None
        self.calls.release()
        return self.done


def test_a_step_that_reached_the_end_waits_for_a_wake_up() -> None:
    """A follower's partial page: no second read until an append wakes it
    (the idle interval here is longer than the test)."""
    step = CountedSteps(done=5)
    loop = StepLoop(step, "follower", 60.0, more_after=lambda done: done >= 2000)
    loop.start()
    try:
        assert step.calls.acquire(timeout=30)
        assert not step.calls.acquire(timeout=0.3), "a partial page is not read again at once"
        loop.wake()
        assert step.calls.acquire(timeout=30), "a wake-up runs the next step"
    finally:
        stop_loops([loop])


def test_a_wake_up_during_a_step_is_not_lost() -> None:
    step = CountedSteps(done=5)
    loop = StepLoop(step, "follower", 60.0, more_after=lambda done: done >= 2000)
    step.during = loop.wake  # an append notified while the step reads and writes
    loop.start()
    try:
        assert step.calls.acquire(timeout=30)
        assert step.calls.acquire(timeout=30), "the wake-up that came during the step runs the next one"
    finally:
        stop_loops([loop])


def test_by_default_a_step_that_did_something_runs_again_at_once() -> None:
    step = CountedSteps(done=1)
    loop = StepLoop(step, "webhooks", 60.0)
    loop.start()
    try:
        for _ in range(3):
            assert step.calls.acquire(timeout=30)
    finally:
        stop_loops([loop])


def test_wake_ups_within_the_gathering_wait_are_taken_in_one_step() -> None:
    """A projector woken by an append waits a moment, so the appends of that
    moment (a gateway call's hold, then its usage) are one page, one
    transaction."""
    step = CountedSteps(done=5)
    loop = StepLoop(step, "follower", 60.0, more_after=lambda done: done >= 2000, gather_seconds=0.4)
    loop.start()
    try:
        assert step.calls.acquire(timeout=30)
        loop.wake()
        time.sleep(0.05)
        loop.wake()
        loop.wake()
        assert step.calls.acquire(timeout=30)
        assert not step.calls.acquire(timeout=0.6), "three wake-ups inside the wait made one step"
        assert step.count == 2
    finally:
        stop_loops([loop])


def test_a_step_cut_short_by_the_shutdown_is_one_line_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A policy waiting for the read model when the services close: its pool
    closes under it and the step raises. That is the shutdown, not a fault."""
    caplog.set_level(logging.INFO, logger="projections.loop")
    entered, released = threading.Event(), threading.Event()

    def waiting() -> int:
        entered.set()
        released.wait(30)
        raise RuntimeError("the connection pool is closed")

    loop = StepLoop(waiting, "version-watcher", 0.01)
    loop.start()
    assert entered.wait(30)
    loop.request_stop()
    released.set()
    loop.stop()
    records = [record for record in caplog.records if record.name == "projections.loop"]
    assert [(record.levelname, record.exc_info) for record in records] == [("INFO", None)]
    assert "stopped during a step (RuntimeError)" in records[0].getMessage()
