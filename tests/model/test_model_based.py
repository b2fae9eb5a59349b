"""The whole ledger through the real server, on SQLite (one process) and on
PostgreSQL (two processes sharing the store, each request sent to either),
against a reference model written in the test (tests/model/ledger_model.py):
a seeded random interleaving of usage batches (retried, changed, invalid,
capturing holds, racing a version or a change of plan, in bursts that
backpressure holds back for a moment), backdated and
forward price and plan versions (some no longer pricing a model), changes
of a customer's plan, grants, card top-ups through a local Stripe server
and their refunds and disputes, authorizations (two at once now and then)
with their voids and captures, piles of hundreds of open holds, hard limits, billing runs, bank transfers,
restarts of a server process and `tally replay` between steps, in USD and
EUR, none of them waiting for the read model. At quiet moments and at the end
every balance, the GraphQL spend and usage, every usage event's rating,
the invoices and the trial balance must equal the model's, and `tally
audit` and `tally replay` must pass (docs/audit.md#model-based-tests).

`TALLY_MODEL_STEPS` (default 300) and `TALLY_MODEL_SEED` (default fixed)
size and vary the run; `make soak` runs a long one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.model.ledger_run import drive, finish, new_run, set_up, summary
from tests.model.server_session import ServerSession

STEPS = int(os.environ.get("TALLY_MODEL_STEPS", "300"))
SEED = int(os.environ.get("TALLY_MODEL_SEED", "20261129"))
LOGS = Path(__file__).resolve().parents[2] / "build" / "model-runs"


@pytest.mark.slow
def test_the_ledger_agrees_with_its_model(
    database_url: str, stripe_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = "postgres" if database_url.startswith("postgresql") else "sqlite"
    # PostgreSQL serves several processes on one store (docs/scaling.md); SQLite one.
    processes = 2 if store == "postgres" else 1
    session = ServerSession(database_url, stripe_base, LOGS / f"{store}-{SEED}.jsonl", processes, SEED)
    run = new_run(session, SEED)
    try:
        set_up(run)
        drive(run, STEPS)
        finish(run)
    finally:
        session.stop()
        with capsys.disabled():
            print("\n" + summary(run, store, SEED))
