"""What /healthz and /metrics say about the parts of this process: its
follower (a thread here, or its projector process; none when another process
projects) and each policy it runs. A part is red when /healthz must name it:
its steps keep failing, one step runs too long, its loop or process has
stopped, or (the follower) the log holds work and the read model's position
has not moved for a while."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infrastructure.settings import Settings
from interfaces.bootstrap import Services
from projections.part_health import HealthLimits, PartState, Verdict, judge


@dataclass(frozen=True)
class PartReport:
    state: PartState
    verdict: Verdict

    @property
    def name(self) -> str:
        return self.state.name

    def public(self) -> dict[str, Any]:
        state = self.state
        error = {"type": state.error_type, "message": state.error_message} if state.error_type else None
        return {
            "name": state.name,
            "status": self.verdict.status,
            "reason": self.verdict.reason,
            "consecutive_failures": state.consecutive_failures,
            "failures_total": state.failures_total,
            "last_error": error,
            "last_failure_at": moment(state.last_failure_at),
            "last_success_at": moment(state.last_success_at),
            "last_progress_at": moment(state.last_progress_at),
        }


@dataclass(frozen=True)
class HealthReport:
    store: str
    log_position: int
    projection_position: int
    parts: list[PartReport]

    @property
    def red(self) -> list[PartReport]:
        return [part for part in self.parts if not part.verdict.healthy]

    def detail(self) -> str:
        return "; ".join(f"{part.name}: {part.verdict.reason}" for part in self.red)

    def public(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "log_position": self.log_position,
            "projection_position": self.projection_position,
            "parts": [part.public() for part in self.parts],
        }


def moment(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def health_limits(settings: Settings) -> HealthLimits:
    return HealthLimits(settings.health_failures, settings.health_step_seconds, settings.health_stall_seconds)


def check_health(services: Services, head: int, position: int, now: float | None = None) -> HealthReport:
    """Every part this process runs, judged; `head` and `position` are the
    log's and the read model's, read by the caller (a failure there is the
    store not answering, which is said differently)."""
    assert head >= 0 and position >= 0, "positions are notification ids"
    now = time.time() if now is None else now
    limits = health_limits(services.settings)
    parts = [] if (follower := follower_report(services, head, position, limits, now)) is None else [follower]
    for loop in services.policies:
        state = loop.health.state()
        if state.started:  # a policy this process does not run is no part of it
            parts.append(PartReport(state, judge(state, limits, now)))
    return HealthReport(services.store.kind, head, position, parts)


def follower_report(
    services: Services, head: int, position: int, limits: HealthLimits, now: float
) -> PartReport | None:
    if services.follower_mode == "off" or services.follower_health is None:
        return None
    state = services.follower_health.state()
    verdict = judge(state, limits, now)
    if services.projector is not None and not services.projector.is_alive():
        verdict = Verdict("stopped", "the projector process has stopped; restart the server")
    # Always looked at, so that the watch's memory of the position stays current.
    waited = services.progress_watch.waited_seconds(position, head)
    if verdict.healthy and waited >= limits.stall_seconds:
        reason = f"the log is at {head} and the read model has stayed at {position} for {waited:.0f} s"
        verdict = Verdict("stalled", reason)
    return PartReport(state, verdict)
