"""Steps that touch the process rather than the ledger: waiting for the server
to agree with the model, restarting the server on the same store, and the
command line's `tally replay` and `tally audit` between steps.

`tally replay` rebuilds every projection from the event store and swaps
the rebuilt tables in for the live ones in one transaction; docs/audit.md
says it may run beside a running server (events appended meanwhile are
applied by the server's next follower step). So the run does both: half
its replays with the server stopped, half with it running."""

from __future__ import annotations

from tests.model.observations import await_agreement
from tests.model.run_state import Run


def checkpoint(run: Run) -> None:
    await_agreement(run.model, run.session, "checkpoint")
    run.model.settle()
    run.quiet = True


def restart(run: Run) -> None:
    """One process, any of them, stopped and started again on the same store."""
    restarted = run.session.restart()
    if run.session.processes > 1:
        run.counts[f"restart of process {restarted}"] += 1


def replay(run: Run) -> None:
    stopped = run.rng.random() < 0.5
    if stopped:
        run.session.stop()
    done = run.session.cli("replay")
    if stopped:
        run.session.start()
    assert done.returncode == 0, f"tally replay exited {done.returncode}:\n{done.stderr}"
    run.counts[f"replay, server {'stopped' if stopped else 'running'}"] += 1


def audit(run: Run) -> None:
    done = run.session.cli("audit")
    assert done.returncode == 0, f"tally audit exited {done.returncode}:\n{done.stderr}"
