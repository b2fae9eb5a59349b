"""GET /metrics in Prometheus text: the counters and histograms of
infrastructure/metrics.py (added up over every process when
PROMETHEUS_MULTIPROC_DIR is set), and the gauges computed at each scrape
from the store and each part's health (this process's view, which includes
its projector process's follower through shared memory)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from infrastructure.metrics import multiprocess_directory
from interfaces.health_check import HealthReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthCollector:
    """The store's positions and each part's state, from one health report."""

    def __init__(self, report: HealthReport) -> None:
        self.report = report

    def collect(self) -> Iterator[Metric]:
        head, position = self.report.log_position, self.report.projection_position
        yield GaugeMetricFamily("tally_log_position", "Highest notification id in the event store.", value=head)
        yield GaugeMetricFamily(
            "tally_projection_position", "Last notification id applied to the read model.", value=position
        )
        yield GaugeMetricFamily(
            "tally_projection_lag_events",
            "Notifications not yet applied to the read model.",
            value=max(head - position, 0),
        )
        yield from self._parts()

    def _parts(self) -> Iterator[Metric]:
        healthy = GaugeMetricFamily(
            "tally_part_healthy", "1 while a part advances, 0 while /healthz names it.", labels=["part"]
        )
        failures = CounterMetricFamily(
            "tally_part_failures", "Failed steps of a part since its process started.", labels=["part"]
        )
        consecutive = GaugeMetricFamily(
            "tally_part_consecutive_failures", "Failed steps of a part since its last successful one.", labels=["part"]
        )
        success = GaugeMetricFamily(
            "tally_part_last_success_timestamp_seconds",
            "When a step of a part last succeeded (Unix time).",
            labels=["part"],
        )
        progress = GaugeMetricFamily(
            "tally_part_last_progress_timestamp_seconds",
            "When a step of a part last did some work (Unix time).",
            labels=["part"],
        )
        for part in self.report.parts:
            state = part.state
            healthy.add_metric([part.name], int(part.verdict.healthy))
            failures.add_metric([part.name], state.failures_total)
            consecutive.add_metric([part.name], state.consecutive_failures)
            # A moment is left out while the part has none yet.
            if state.last_success_at is not None:
                success.add_metric([part.name], state.last_success_at)
            if state.last_progress_at is not None:
                progress.add_metric([part.name], state.last_progress_at)
        yield from (healthy, failures, consecutive, success, progress)


class GatewayCollector:
    """This process's gateway calls by outcome (the gateway counts them as it settles each call)."""

    def __init__(self, calls: Mapping[str, int]) -> None:
        self.calls = calls

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "tally_gateway_calls", "Gateway calls answered by this process, by outcome.", labels=["outcome"]
        )
        for outcome, count in sorted(self.calls.items()):
            family.add_metric([outcome], count)
        yield family


def exposition(report: HealthReport, gateway_calls: Mapping[str, int] | None = None) -> bytes:
    """The whole /metrics body."""
    directory = multiprocess_directory()
    if directory is None:
        counted = generate_latest(REGISTRY)
    else:
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process, directory)  # type: ignore[no-untyped-call]
        counted = generate_latest(every_process)
    computed = CollectorRegistry()
    computed.register(HealthCollector(report))
    computed.register(GatewayCollector(gateway_calls or {}))
    return generate_latest(computed) + counted
