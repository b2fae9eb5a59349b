"""The gateway's added latency: the same official-SDK call (a chat
completion, not streamed) through tally's gateway and straight to the local
upstream it forwards to, alternately, so both see the same machine. The
upstream is the tests' fake provider (tests/fake_provider.py), served in
this process; it answers at once, so the difference is tally's: the
customer's key looked up, the hold, the forward and the usage recorded."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import openai

from bench.ingest import ADMIN_KEY
from bench.server import Server
from tests.fake_provider import fake_provider

WARMUP_CALLS = 20
RATES = [
    ("gpt-4o", "input_tokens", "2.50"),
    ("gpt-4o", "cached_input_tokens", "1.25"),
    ("gpt-4o", "output_tokens", "10"),
]


@dataclass(frozen=True)
class GatewayLatency:
    direct_ms: list[float]
    gateway_ms: list[float]

    @staticmethod
    def percentile(samples: list[float], rank: int) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, max(0, round(rank / 100 * len(ordered)) - 1))]

    def p50(self, through: bool) -> float:
        return statistics.median(self.gateway_ms if through else self.direct_ms)

    def p99(self, through: bool) -> float:
        return self.percentile(self.gateway_ms if through else self.direct_ms, 99)


def measure_gateway(database_url: str, calls: int, log: Path) -> GatewayLatency:
    with fake_provider() as (upstream, fake):
        env = {"TALLY_UPSTREAM_OPENAI_URL": f"{upstream}/v1", "TALLY_UPSTREAM_OPENAI_KEY": "sk-bench-operator"}
        with Server(database_url, ADMIN_KEY, log, env_extra=env) as server:
            key = _customer_key(server)
            through = openai.OpenAI(base_url=f"{server.base_url}/gateway/openai/v1", api_key=key, max_retries=0)
            direct = openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-bench-operator", max_retries=0)
            direct_ms: list[float] = []
            gateway_ms: list[float] = []
            for number in range(WARMUP_CALLS + calls):
                for sdk, samples in ((direct, direct_ms), (through, gateway_ms)):
                    started = time.perf_counter()
                    answer = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
                    elapsed = (time.perf_counter() - started) * 1000
                    if not answer.choices:
                        raise RuntimeError("an answer without choices")
                    if number >= WARMUP_CALLS:
                        samples.append(elapsed)
            expected_calls = 2 * (WARMUP_CALLS + calls)
            if fake.count() != expected_calls:
                raise RuntimeError(f"the upstream saw {fake.count()} calls, not {expected_calls}")
            return GatewayLatency(direct_ms, gateway_ms)


def _customer_key(server: Server) -> str:
    with server.client() as api:
        api.post("/v1/price-books", json={"id": "gw", "currency": "USD"}).raise_for_status()
        rates = [{"provider": "openai", "model": m, "unit": u, "price": p, "per": 1_000_000} for m, u, p in RATES]
        version = {"effective_from": "2026-01-01T00:00:00Z", "rates": rates}
        api.post("/v1/price-books/gw/versions", json=version).raise_for_status()
        api.post("/v1/plans", json={"id": "gw", "price_book": "gw", "markup_percent": "20"}).raise_for_status()
        customer = {"id": "gw-bench", "name": "Gateway bench", "currency": "USD", "plan": "gw", "billing": "prepaid"}
        api.post("/v1/customers", json=customer).raise_for_status()
        grant = {"id": "funds", "amount": "100000", "source": "grant"}
        api.post("/v1/customers/gw-bench/top-ups", json=grant).raise_for_status()
        key: str = api.post("/v1/customers/gw-bench/api-keys").json()["key"]
        return key
