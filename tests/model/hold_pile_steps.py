"""A pile of open holds: one prepaid customer authorizes a hundred or more
small amounts in a row, through either process, some expiring within
seconds and most after an hour; then a few of them are voided at once.

The decisions that follow for that customer count hundreds of open holds,
which a process keeps as an index of totals, expiries and what it has asked
about captures (application/hold_index.py) rather than walking them. Each
answer in the pile, and every later one, is checked against the model
wherever the model is sure of it, so an index that let an expired hold keep
money back, forgot a voided one, or missed a capture shows as an answer the
model rules out; the closing comparison checks the balances."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.model import authorization_model
from tests.model.money_steps import ask_authorization
from tests.model.run_state import Run

PILE = (100, 250)
MICRO = Decimal("0.000001")
VOIDED = (3, 12)


def pile_of_holds(run: Run) -> None:
    """For the prepaid customer with the most available, amounts that come
    to about what is available together: most are approved and held, and the
    last ones meet the edge of the money."""
    now = authorization_model.Window.at(datetime.now(UTC))
    room = {customer: authorization_model.available(run.model, customer, now).low for customer in run.prepaid()}
    customer = max(sorted(room), key=lambda name: room[name])
    count = run.rng.randint(*PILE)
    largest = max(MICRO, (room[customer] / count).quantize(MICRO))
    placed = len(run.authorization_bodies)
    for _ in range(count):
        ask_authorization(run, customer, max(MICRO, (largest * Decimal(run.rng.random()) * 2).quantize(MICRO)))
    pile = [body for body, status in run.authorization_bodies[placed:] if status == 201]
    for body in run.rng.sample(pile, min(len(pile), run.rng.randint(*VOIDED))):
        answer = run.session.post(f"/v1/authorizations/{body['id']}/void")
        assert answer.status_code == 200 and answer.json()["status"] == "voided", answer.text
        run.model.holds[body["id"]].voided = True
    run.counts["pile of holds"] += 1
