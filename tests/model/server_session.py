"""One tally server process on one database for a whole model-based run:
started, stopped and started again on the same store, its card payments
going to a local Stripe server that sends signed webhooks back; the
command line (`tally replay`, `tally audit`) run against the same store;
and a log of every request, so that a disagreement can be replayed by hand."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.server import client, running_server, tally_command
from tests.stripe_server import API_KEY, WEBHOOK_SECRET, register_webhook
from tests.support import ADMIN_KEY

CLI_SECONDS = 300


class ServerSession:
    def __init__(self, database_url: str, stripe_base: str, log_path: Path) -> None:
        self.database_url = database_url
        self.stripe_base = stripe_base
        self.log_path = log_path
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")
        self._stack: ExitStack | None = None
        self._api: httpx.Client | None = None
        self.base = ""

    @property
    def running(self) -> bool:
        return self._stack is not None

    def start(self) -> None:
        assert self._stack is None, "one server at a time"
        stack = ExitStack()
        env = {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": self.stripe_base, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
        self.base = stack.enter_context(running_server(self.database_url, env_extra=env))
        register_webhook(self.stripe_base, f"{self.base}/v1/webhooks/stripe")  # the port is new each start
        self._api = stack.enter_context(client(self.base))
        self._stack = stack
        self.note({"server": "started", "base": self.base})

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._api = None, None
        self.note({"server": "stopped"})

    def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> httpx.Response:
        assert self._api is not None, "the server is not running"
        answer = self._api.request(method, path, json=body, params=params)
        if method != "GET" and path != "/graphql":
            self.note({"request": f"{method} {path}", "body": body, "status": answer.status_code})
        return answer

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.request("POST", path, body)

    def post_signed(self, path: str, payload: bytes, signature: str) -> httpx.Response:
        """A webhook as the card processor sends it: its own bytes, signed, and no bearer key."""
        answer = httpx.post(f"{self.base}{path}", content=payload, headers={"Stripe-Signature": signature}, timeout=30)
        self.note({"request": f"POST {path} (signed)", "body": payload.decode(), "status": answer.status_code})
        return answer

    def post_concurrently(self, requests: list[tuple[str, Any]]) -> list[httpx.Response]:
        """Several POSTs at once, each on a connection of its own, answers in order."""
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answers = list(pool.map(lambda request: self._post_alone(*request), requests))
        for (path, body), answer in zip(requests, answers, strict=True):
            self.note({"request": f"POST {path} (concurrently)", "body": body, "status": answer.status_code})
        return answers

    def _post_alone(self, path: str, body: Any) -> httpx.Response:
        with client(self.base) as own:
            return own.post(path, json=body)

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
        done = subprocess.run(
            tally_command(*args), env=env, capture_output=True, text=True, timeout=CLI_SECONDS, check=False
        )
        self.note({"command": f"tally {' '.join(args)}", "server": self.running, "exit": done.returncode})
        return done

    def note(self, record: dict[str, Any]) -> None:
        with self.log_path.open("a") as log:
            log.write(json.dumps(record, default=str) + "\n")
