"""One store's measurements in order: baseline, application layer, HTTP,
lag; a failed measurement becomes a FAILED row and the run goes on."""

from __future__ import annotations

import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from bench.baseline import BaselineResult, postgres_baseline, sqlite_baseline
from bench.control import balance_changed_lag, paced
from bench.gateway import measure_gateway
from bench.http import measure_http
from bench.ingest import ADMIN_KEY, measure_ingest, open_seeded
from bench.lag import measure_lag, percentile
from bench.observer import ROUNDS, measure_observer
from bench.options import Options
from bench.profiling import profile_ingest
from bench.report import RESULTS, Row
from bench.rerate import measure_rerate
from bench.server import Server
from bench.stores import RunStores
from bench.workload import Event, customer_id

T = TypeVar("T")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StoreRun:
    def __init__(self, kind: str, options: Options, stores: RunStores, events: list[Event]) -> None:
        self.kind = kind
        self.options = options
        self.stores = stores
        self.events = events
        self.rows: list[Row] = []
        self.raw: dict[str, Any] = {}
        self.baseline: float | None = None

    def attempt(self, name: str, unit: str, measure: Callable[[], T]) -> T | None:
        say(f"[{self.kind}] {name} ...")
        started = time.perf_counter()
        try:
            result = measure()
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            self.rows.append(Row(self.kind, name, None, unit, error=f"{type(error).__name__}: {error}"))
            self.raw[name] = {"error": repr(error)}
            return None
        say(f"[{self.kind}] {name} done in {time.perf_counter() - started:.1f} s")
        return result

    def add(self, measurement: str, value: float, unit: str, note: str = "") -> None:
        baseline = self.baseline if unit == "events/s" and not measurement.startswith("baseline") else None
        row = Row(self.kind, measurement, value, unit, baseline, note)
        self.rows.append(row)
        say(f"[{self.kind}] {measurement}: {value:,.1f} {unit} {note}")

    def run(self) -> None:
        wanted = self.options.measurements
        if "baseline" in wanted:
            self._baseline()
        if "ingest" in wanted:
            self._ingest()
        if "rerate" in wanted:
            self._rerate()
        if "observer" in wanted and self.kind == self.options.stores[0]:  # no store: measured once
            self._observer()
        if self.options.profile:
            self._profile()
        if "http" in wanted or "lag" in wanted or "control" in wanted:
            self._server()
        if "gateway" in wanted:
            self._gateway()

    def _gateway(self) -> None:
        """The same SDK call straight to the upstream (the baseline) and
        through the gateway, alternately, on a server of its own."""
        calls = self.options.gateway_calls
        url = self.stores.url(self.kind, "gateway")
        RESULTS.mkdir(exist_ok=True)
        log = RESULTS / f"server-gateway-{self.kind}.log"
        found = self.attempt("gateway latency", "ms", lambda: measure_gateway(url, calls, log))
        if found is None:
            return
        self.add("baseline: SDK call straight to the upstream p50", found.p50(through=False), "ms")
        self.add("baseline: SDK call straight to the upstream p99", found.p99(through=False), "ms", f"{calls} calls")
        self.add("gateway: SDK call through tally p50", found.p50(through=True), "ms")
        added = found.p50(through=True) - found.p50(through=False)
        self.add(
            "gateway: SDK call through tally p99",
            found.p99(through=True),
            "ms",
            f"{calls} calls; p50 added {added:,.1f} ms",
        )
        self.add(
            "gateway: added at p99",
            found.p99(through=True) - found.p99(through=False),
            "ms",
            "through tally minus straight, each at its own p99",
        )
        self.raw["gateway"] = {
            "calls": calls,
            "direct_p50_ms": found.p50(through=False), "direct_p99_ms": found.p99(through=False),
            "gateway_p50_ms": found.p50(through=True), "gateway_p99_ms": found.p99(through=True),
        }  # fmt: skip

    def _observer(self) -> None:
        result = self.attempt("request observer", "us", measure_observer)
        if result is not None:
            self.raw["observer"] = asdict(result)
            note = f"in process, median of {ROUNDS} rounds of {result.requests_per_round} requests"
            self.add("baseline: a request, no observer", result.bare_us, "us/request", note)
            overhead = result.text_overhead_us
            self.add("a request with the observer, text line", result.text_us, "us/request", f"+{overhead:.1f} us")
            overhead = result.json_overhead_us
            self.add("a request with the observer, JSON line", result.json_us, "us/request", f"+{overhead:.1f} us")

    def _rerate(self) -> None:
        o = self.options
        url = self.stores.url(self.kind, "rerate")
        result = self.attempt(
            "re-rating", "events/s", lambda: measure_rerate(url, self.events, o.customers, o.batch, o.timeout)
        )
        if result is not None:
            self.raw["rerate"] = {
                "events": result.events,
                "rerated": result.rerated,
                "seconds": result.seconds,
                "rerate_seconds": result.rerate_seconds,
            }
            note = (
                f"{result.rerated} events re-rated after a backdated version, adjustments projected; "
                f"the re-rating itself {result.rerated / result.rerate_seconds:,.0f} ev/s"
            )
            self.add("re-rating", result.rate, "events/s", note)

    def _baseline(self) -> None:
        o = self.options
        if self.kind == "postgresql":
            schema = self.stores.schema("baseline")
            measure: Callable[[], BaselineResult] = lambda: postgres_baseline(
                self.stores.conninfo, schema, self.events, o.batch, o.timeout
            )
        else:
            path = self.stores.sqlite_path("baseline")
            measure = lambda: sqlite_baseline(path, self.events, o.batch, o.timeout)
        result = self.attempt("baseline: INSERT executemany", "events/s", measure)
        if result is not None:
            self.raw["baseline"] = {**asdict(result), "rate": result.rate}
            self.baseline = result.rate
            self.add("baseline: INSERT executemany", result.rate, "events/s", f"{o.batch} rows/commit")

    def _ingest(self) -> None:
        """On PostgreSQL both placements of the follower are measured: a thread in
        the writing process (sharing its interpreter lock) and the default, a
        projector process of its own."""
        modes = ["thread", "process"] if self.kind == "postgresql" else ["thread"]
        for mode in modes:
            self._ingest_with(mode, suffix=f" (projector {mode})" if len(modes) > 1 else "")

    def _ingest_with(self, mode: str, suffix: str) -> None:
        o = self.options
        url = self.stores.url(self.kind, f"app_{mode}")
        result = self.attempt(
            f"app layer{suffix}",
            "events/s",
            lambda: measure_ingest(url, self.events, o.customers, o.batch, o.timeout, projector=mode),
        )
        if result is not None:
            first, last = result.decile_rates(o.batch)
            self.raw[f"ingest{suffix}"] = {
                **asdict(result),
                "record_rate": result.record_rate,
                "rate": result.end_to_end_rate,
                "first_tenth_rate": first,
                "last_tenth_rate": last,
            }
            note = f"{result.events} events, {o.customers} customers, batches of {o.batch}"
            self.add(f"app layer: record{suffix}", result.record_rate, "events/s", note)
            trend = f"first tenth {first:,.0f} ev/s, last tenth {last:,.0f} ev/s"
            self.add(f"app layer: record+project{suffix}", result.end_to_end_rate, "events/s", trend)

    def _profile(self) -> None:
        o = self.options
        url = self.stores.url(self.kind, "profile")
        RESULTS.mkdir(exist_ok=True)
        dump = RESULTS / f"profile-{self.kind}"
        text = self.attempt("profile", "", lambda: profile_ingest(url, self.events, o.customers, o.batch, dump))
        if text is not None:
            path = RESULTS / f"profile-{self.kind}.txt"
            path.write_text(text)
            say(f"[{self.kind}] profile written to {path}")

    def _server(self) -> None:
        o = self.options
        url = self.stores.url(self.kind, "http")
        seeded = self.attempt("HTTP setup", "", lambda: open_seeded(url, o.customers, start_follower=False, probe=True))
        if seeded is None:
            return
        seeded.close()
        RESULTS.mkdir(exist_ok=True)
        log = RESULTS / f"server-{self.kind}.log"
        server = self.attempt("HTTP server start", "", lambda: Server(url, ADMIN_KEY, log).start())
        if server is None:
            return
        try:
            if "http" in o.measurements:
                self._http(server)
            if "lag" in o.measurements:
                self._lag(server)
            if "control" in o.measurements:
                self._control(server)
        finally:
            server.stop()

    def _http(self, server: Server) -> None:
        o = self.options
        result = self.attempt(
            "HTTP", "events/s", lambda: measure_http(server, self.events, o.batch, o.clients, o.timeout)
        )
        if result is not None:
            self.raw["http"] = {**asdict(result), "post_rate": result.post_rate, "rate": result.end_to_end_rate}
            note = f"{o.clients} client threads, {o.batch} events/POST"
            if result.held_back:
                note += f"; {result.held_back} POSTs held back (429) and sent again"
            self.add("HTTP: POST", result.post_rate, "events/s", note)
            self.add("HTTP: POST+project", result.end_to_end_rate, "events/s")

    def _control(self, server: Server) -> None:
        """Authorization latency at 500 requests/s and the balanceChanged lag,
        beside GET /healthz at the same pace on the same server."""
        o = self.options
        seconds = 4.0 if o.events <= 10_000 else 10.0
        health = self.attempt("healthz latency", "ms", lambda: paced(server, 500, seconds, "healthz", o.customers))
        if health is not None:
            self.add("baseline: GET /healthz p50 at 500/s", health.p50, "ms")
            self.add("baseline: GET /healthz p99 at 500/s", health.p99, "ms", f"{len(health.samples_ms)} requests")
        found = self.attempt("authorizations", "ms", lambda: paced(server, 500, seconds, "authorize", o.customers))
        if found is not None:
            note = f"{len(found.samples_ms)} requests, statuses {found.statuses}, errors {found.errors}"
            self.add("authorization p50 at 500/s", found.p50, "ms")
            self.add("authorization p99 at 500/s", found.p99, "ms", note)
            self.raw["authorizations"] = {
                "p50_ms": found.p50, "p99_ms": found.p99, "statuses": found.statuses, "errors": found.errors,
                "healthz_p99_ms": health.p99 if health else None,
            }  # fmt: skip
        # The same at a tenth of the pace: the service time without queueing.
        quiet = self.attempt("quiet authorizations", "ms", lambda: paced(server, 50, seconds, "authorize", o.customers))
        quiet_health = self.attempt("quiet healthz", "ms", lambda: paced(server, 50, seconds, "healthz", o.customers))
        if quiet is not None and quiet_health is not None:
            self.add("baseline: GET /healthz p99 at 50/s", quiet_health.p99, "ms")
            self.add("authorization p50 at 50/s", quiet.p50, "ms")
            self.add("authorization p99 at 50/s", quiet.p99, "ms", f"statuses {quiet.statuses}")
        lag = self.attempt(
            "balanceChanged lag", "ms", lambda: balance_changed_lag(server, o.lag_samples, customer_id(0))
        )
        if lag is not None and lag.samples_ms:
            self.add("balanceChanged lag p50", lag.p50, "ms")
            self.add(
                "balanceChanged lag p99",
                lag.p99,
                "ms",
                f"{len(lag.samples_ms)} samples, {lag.errors} timeouts; target < 250 ms",
            )
            self.raw["balance_changed"] = {"p50_ms": lag.p50, "p99_ms": lag.p99, "samples": len(lag.samples_ms)}

    def _lag(self, server: Server) -> None:
        o = self.options
        result = self.attempt(
            "lag p99",
            "ms",
            lambda: measure_lag(server, o.lag_samples, o.background_rate, o.customers, o.timeout),
        )
        if result is None:
            return
        accept, reads = sorted(result.accept_ms), sorted(result.read_ms)
        self.raw["lag"] = {
            "samples": len(result.samples_ms),
            "timeouts": result.timeouts,
            "p50_ms": result.p50,
            "p99_ms": result.p99,
            "max_ms": max(result.samples_ms),
            "mean_ms": sum(result.samples_ms) / len(result.samples_ms),
            "accept_p50_ms": accept[len(accept) // 2],
            "accept_max_ms": accept[-1],
            "balance_read_p50_ms": reads[len(reads) // 2],
            "balance_read_max_ms": reads[-1],
            "balance_reads": len(reads),
            "background_rate": result.background_rate,
            "background_errors": result.background_errors,
            "samples_ms": result.samples_ms,
        }
        load = f"under {result.background_rate:,.0f} ev/s background; POST p50 {accept[len(accept) // 2]:,.0f} ms"
        self.add("lag p50", result.p50, "ms", f"{len(result.samples_ms)} samples, {load}")
        self.add("lag p99", result.p99, "ms", f"max {max(result.samples_ms):,.1f} ms, {result.timeouts} timeouts")
        if result.projected_ms:
            projected = sorted(result.projected_ms)
            self.raw["lag"]["read_model_p50_ms"] = statistics.median(projected)
            self.raw["lag"]["read_model_p99_ms"] = percentile(projected, 99)
            self.add("read model lag p50", statistics.median(projected), "ms", "to the projection's position")
            self.add("read model lag p99", percentile(projected, 99), "ms", f"max {projected[-1]:,.1f} ms")
        self._lag_at_full_rate(server)

    def _lag_at_full_rate(self, server: Server) -> None:
        """The same probe while the background sends batches of 500 back to
        back: the balance's lag, and how far the read model fell behind."""
        o = self.options
        samples = max(o.lag_samples // 4, 10)
        result = self.attempt(
            "lag p99 at full rate",
            "ms",
            lambda: measure_lag(server, samples, o.background_rate, o.customers, o.timeout, full=True),
        )
        if result is None:
            return
        self.raw["lag_full_rate"] = {
            "samples": len(result.samples_ms),
            "timeouts": result.timeouts,
            "p50_ms": result.p50,
            "p99_ms": result.p99,
            "background_rate": result.background_rate,
            "backlog_events": result.backlog_events,
            "drain_seconds": result.drain_seconds,
            "samples_ms": result.samples_ms,
        }
        load = f"{len(result.samples_ms)} samples under {result.background_rate:,.0f} ev/s background (full rate)"
        self.add("lag p50 at full rate", result.p50, "ms", load)
        self.add("lag p99 at full rate", result.p99, "ms", f"max {max(result.samples_ms):,.1f} ms")
        self.add(
            "read model behind at full rate",
            result.backlog_events,
            "events",
            f"when the load stopped; caught up {result.drain_seconds:,.1f} s later",
        )
