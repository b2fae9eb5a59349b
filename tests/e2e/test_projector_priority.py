"""A projector process runs at a lower CPU priority than the server that
started it (TALLY_PROJECTOR_NICE), and still keeps the view up to date."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.server import client, projected, server_process, wait_for
from tests.e2e.test_rest_flow import setup_catalog


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def _projector_of(pid: int) -> int | None:
    for child in _children(pid):
        try:
            command = (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            return child
    return None


def test_the_projector_process_yields_the_cpu_to_requests(postgres_url: str) -> None:
    env = {"TALLY_PROJECTOR": "process", "TALLY_PROJECTOR_NICE": "7"}
    with server_process(postgres_url, env_extra=env) as (base, process), client(base) as api:
        projector = wait_for(lambda: _projector_of(process.pid))
        assert projector, "no projector process"
        server_nice = os.getpriority(os.PRIO_PROCESS, process.pid)
        assert wait_for(lambda: os.getpriority(os.PRIO_PROCESS, projector) == min(19, server_nice + 7))
        setup_catalog(api)
        assert projected(api)  # the view keeps up with what the server appends
        assert api.get("/healthz").status_code == 200
