"""The tally server processes of a whole model-based run, on one database:
one, or several sharing the store as docs/scaling.md runs them (each with
its own follower, version watcher and policies, its own caches of
reference data and holds), each request sent to one of them at random;
started, stopped and started again on the same store, a restart hitting
any of them; card payments going to a local Stripe server that sends
signed webhooks back to one of them; backpressure on usage at its lowest
limit, so that a burst of usage has the next batches refused for a moment;
the command line (`tally replay`, `tally audit`) run against the same
store; and a log of every request and the process it went to, so that a
disagreement can be replayed by hand."""

from __future__ import annotations

import json
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.server import client, running_server, tally_command
from tests.stripe_server import API_KEY, WEBHOOK_SECRET, register_webhook
from tests.support import ADMIN_KEY

CLI_SECONDS = 300
MAX_PROCESSES = 4
INGEST_MAX_BEHIND = 100  # the lowest the setting takes


@dataclass
class ServerProcess:
    base: str
    api: httpx.Client
    stack: ExitStack


class ServerSession:
    def __init__(self, database_url: str, stripe_base: str, log_path: Path, processes: int = 1, seed: int = 0) -> None:
        assert 1 <= processes <= MAX_PROCESSES, processes
        self.database_url = database_url
        self.stripe_base = stripe_base
        self.log_path = log_path
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")
        self.servers: list[ServerProcess | None] = [None] * processes
        # Which process answers comes from a sequence of its own, so that a seed makes
        # the same workload on a store with one process as on one with several.
        self.rng = random.Random(seed)
        self.webhook_target: int | None = None
        self.last_via = 0

    @property
    def running(self) -> bool:
        return any(server is not None for server in self.servers)

    @property
    def processes(self) -> int:
        return len(self.servers)

    def start(self) -> None:
        """Start every process that is not running, side by side (each waits for its own health),
        on a new store as on one in use: they create its tables one at a time."""
        stopped = [index for index, server in enumerate(self.servers) if server is None]
        assert stopped, "every process is already running"
        with ThreadPoolExecutor(max_workers=max(len(stopped), 1)) as pool:
            list(pool.map(self._start_one, stopped))
        self._route_webhooks()

    def stop(self) -> None:
        for index in range(self.processes):
            self._stop_one(index)
        self.webhook_target = None

    def restart(self) -> int:
        """Stop one process at random and start it again on the same store."""
        index = self.rng.randrange(self.processes)
        if self.webhook_target == index:
            self._route_webhooks(avoiding=index)
        self._stop_one(index)
        self._start_one(index)
        self._route_webhooks()
        return index

    def _start_one(self, index: int) -> None:
        assert self.servers[index] is None, f"process {index} is running"
        stack = ExitStack()
        env = {
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_API_BASE": self.stripe_base,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            # Backpressure at its lowest: a burst of usage leaves the read model
            # far enough behind that the next batches are refused for a moment.
            "TALLY_INGEST_MAX_BEHIND": str(INGEST_MAX_BEHIND),
        }
        base = stack.enter_context(running_server(self.database_url, env_extra=env))
        self.servers[index] = ServerProcess(base, stack.enter_context(client(base)), stack)
        self.note({"server": "started", "process": index, "base": base})

    def _stop_one(self, index: int) -> None:
        server = self.servers[index]
        if server is not None:
            server.stack.close()
            self.servers[index] = None
            self.note({"server": "stopped", "process": index})

    def _route_webhooks(self, avoiding: int | None = None) -> None:
        """The card processor sends its webhooks to one running process (the port is new each start)."""
        candidates = [index for index, server in enumerate(self.servers) if server and index != avoiding]
        if candidates:
            self.webhook_target = self.rng.choice(candidates)
            register_webhook(self.stripe_base, f"{self._server(self.webhook_target).base}/v1/webhooks/stripe")

    def _server(self, index: int) -> ServerProcess:
        server = self.servers[index]
        assert server is not None, f"process {index} is not running"
        return server

    def pick(self) -> int:
        """A running process, at random."""
        running = [index for index, server in enumerate(self.servers) if server is not None]
        assert running, "no process is running"
        return self.rng.choice(running)

    def other_than(self, index: int) -> int:
        """Another running process than `index` if there is one, else `index`."""
        others = [other for other, server in enumerate(self.servers) if server is not None and other != index]
        return self.rng.choice(others) if others else index

    def request(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None, via: int | None = None
    ) -> httpx.Response:
        self.last_via = self.pick() if via is None else via
        answer = self._server(self.last_via).api.request(method, path, json=body, params=params)
        if method != "GET" and path != "/graphql":
            self.note({"request": f"{method} {path}", "process": self.last_via, "body": body,
                       "status": answer.status_code})  # fmt: skip
        return answer

    def post(self, path: str, body: Any = None, via: int | None = None) -> httpx.Response:
        return self.request("POST", path, body, via=via)

    def post_signed(self, path: str, payload: bytes, signature: str) -> httpx.Response:
        """A webhook as the card processor sends it: its own bytes, signed, and no bearer key."""
        via = self.pick()
        answer = httpx.post(f"{self._server(via).base}{path}", content=payload,
                            headers={"Stripe-Signature": signature}, timeout=30)  # fmt: skip
        self.note({"request": f"POST {path} (signed)", "process": via, "body": payload.decode(),
                   "status": answer.status_code})  # fmt: skip
        return answer

    def post_concurrently(self, requests: list[tuple[str, Any]]) -> list[httpx.Response]:
        return self.concurrently([("POST", path, body) for path, body in requests])

    def concurrently(self, requests: list[tuple[str, str, Any]]) -> list[httpx.Response]:
        """Several requests at once, each on a connection of its own, spread over
        the running processes (one each while there are enough), answers in order."""
        first = self.pick()
        running = [index for index, server in enumerate(self.servers) if server is not None]
        targets = [running[(running.index(first) + n) % len(running)] for n in range(len(requests))]
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answers = list(pool.map(self._send_alone, targets, requests))
        for via, (method, path, body), answer in zip(targets, requests, answers, strict=True):
            self.note({"request": f"{method} {path} (concurrently)", "process": via, "body": body,
                       "status": answer.status_code})  # fmt: skip
        return answers

    def _send_alone(self, via: int, request: tuple[str, str, Any]) -> httpx.Response:
        method, path, body = request
        with client(self._server(via).base) as own:
            return own.request(method, path, json=body)

    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, params=params)

    def graphql(self, query: str) -> dict[str, Any]:
        answer = self.post("/graphql", {"query": query})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert not body.get("errors"), body["errors"]
        return dict(body["data"])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The command line against this run's store, as an operator runs it."""
        env = {**os.environ, "TALLY_DATABASE_URL": self.database_url, "TALLY_ADMIN_KEY": ADMIN_KEY}
        env.setdefault("TALLY_REPLAY_WORKERS", "2")  # replays and audits filled by two processes, beside the servers
        done = subprocess.run(
            tally_command(*args), env=env, capture_output=True, text=True, timeout=CLI_SECONDS, check=False
        )
        self.note({"command": f"tally {' '.join(args)}", "server": self.running, "exit": done.returncode})
        return done

    def note(self, record: dict[str, Any]) -> None:
        with self.log_path.open("a") as log:
            log.write(json.dumps(record, default=str) + "\n")
