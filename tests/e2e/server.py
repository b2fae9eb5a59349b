"""A real tally server process (uvicorn) for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import ADMIN_KEY

STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tally_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from interfaces.cli.main import main; main()", *args]


@contextmanager
def running_server(
    database_url: str, *extra_args: str, follower: bool = True, env_extra: dict[str, str] | None = None
) -> Iterator[str]:
    with server_process(database_url, *extra_args, follower=follower, env_extra=env_extra) as (base, _process):
        yield base


@contextmanager
def server_process(
    database_url: str,
    *extra_args: str,
    follower: bool = True,
    env_extra: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A running server and its process, for tests that kill it outright; it is
    stopped on leaving unless it is already gone. With `log`, the server's
    stderr is appended to that file, so a failing test can show what the
    server said (a pipe nobody reads would also fill up and stall it)."""
    port = free_port()
    env = {**os.environ, "TALLY_DATABASE_URL": database_url, "TALLY_ADMIN_KEY": ADMIN_KEY, **(env_extra or {})}
    env["TALLY_FOLLOWER"] = "true" if follower else "false"
    # stderr goes to a file (the given log, else a temporary one): a pipe nobody
    # reads fills up, and a server that logs a lot would stall on it.
    with log.open("ab") if log else tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            tally_command("serve", "--port", str(port), *extra_args),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    stderr.seek(0)
                    said = log.read_text() if log else stderr.read().decode(errors="replace")
                    raise RuntimeError(f"server exited: {said}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("server did not start")
            yield base, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def client(base: str, key: str = ADMIN_KEY) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def wait_for(check, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll until check() returns a truthy value; projections follow within moments."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def projected(api: httpx.Client, timeout: float = 30.0) -> bool:
    """Wait until the read model has applied the log as it stands now. A
    current balance counts the log's tail already; the other views (the
    journal, the trial balance, usage and spend) follow the read model."""
    head = int(api.get("/healthz").json()["log_position"])
    return bool(wait_for(lambda: int(api.get("/healthz").json()["projection_position"]) >= head, timeout))
