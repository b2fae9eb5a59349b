"""A real tally server process (uvicorn) for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    port = free_port()
    env = {**os.environ, "TALLY_DATABASE_URL": database_url, "TALLY_ADMIN_KEY": ADMIN_KEY, **(env_extra or {})}
    env["TALLY_FOLLOWER"] = "true" if follower else "false"
    process = subprocess.Popen(
        tally_command("serve", "--port", str(port), *extra_args),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield base
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
