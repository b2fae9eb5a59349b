"""A real `tally serve` subprocess (uvicorn) on a free 127.0.0.1 port, and a
small client for the endpoints the benchmark reads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.stores import BenchError

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.02
REQUEST_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def tally_command() -> list[str]:
    script = Path(sys.executable).parent / "tally"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from interfaces.cli.main import main; main()"]


class Server:
    def __init__(
        self, database_url: str, admin_key: str, log_path: Path, env_extra: dict[str, str] | None = None
    ) -> None:
        self.env_extra = env_extra or {}
        self.database_url = database_url
        self.admin_key = admin_key
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        return self.start()

    def start(self) -> Server:
        env = {
            **os.environ,
            "TALLY_DATABASE_URL": self.database_url,
            "TALLY_ADMIN_KEY": self.admin_key,
            "TALLY_FOLLOWER": "true",
            "TALLY_PROJECTOR": "auto",  # the default: a projector process on PostgreSQL, a thread on SQLite
            **self.env_extra,
        }
        command = [*tally_command(), "serve", "--host", HOST, "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def client(self, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, trust_env=False)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        with self.client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise BenchError(f"tally serve exited with {self.process.returncode}: {self.log_tail()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(POLL_SECONDS)
        raise BenchError(f"tally serve did not answer within {START_TIMEOUT:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def health(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/healthz")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def wait_projected(client: httpx.Client, timeout: float) -> int:
    """Poll /healthz until the projection has applied the log head seen at the
    start; returns that position."""
    head = int(health(client)["log_position"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(health(client)["projection_position"]) >= head:
            return head
        time.sleep(POLL_SECONDS)
    raise BenchError(f"the server's projection did not reach {head} within {timeout:.0f} s")
