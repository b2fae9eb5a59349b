"""Steps that race the server's own asynchronous work on purpose.

A usage batch sent at the same moment as a price version that changes how
it rates: which of the two the server handles first is not known, so the
batch's unpriced warnings may go either way and the model accepts both;
the final ratings may not (a usage's final rating depends only on the event
and the versions published, whatever the order they arrived in), and the
next agreement holds the server to them, also when the server restarts at
once, before the version watcher's settling pass was due.

A usage batch, then at once an authorization for an amount the wallet
covered before the batch and no longer covers after it: an authorization
counts every usage whose POST answered before it arrived, whether or not
the read model has applied it yet, also when another process recorded it.

Two authorizations for one prepaid customer at the same moment, one through
each process where there are two, each for an amount the customer's money
(and its limit) covers alone and not both together: approving and holding
are one atomic step across processes, so never both pass, and one does
when the model is sure the money covers it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.model import authorization_model
from tests.model.catalog_steps import next_price_version, price_version_published
from tests.model.ledger_model import Hold
from tests.model.metering_steps import expected_result, post_usage, ready_for_usage
from tests.model.money_steps import ask_authorization, authorization_body
from tests.model.observations import parse_time
from tests.model.run_state import Run

RACING_EVENTS = (5, 40)
RACING_FACTORS = ("0.51", "0.75", "1")  # each alone covered, both together not
ZERO = Decimal(0)


def usage_racing_a_version(run: Run) -> None:
    batch: list[dict[str, Any]] = [
        run.workload.usage_event(run.rng.choice(run.customers()), run.boundaries, None)
        for _ in range(run.rng.randint(*RACING_EVENTS))
    ]
    version, body = next_price_version(run, "default")
    ready_for_usage(run)  # the batch is taken at its first sending, racing the version
    usage_answer, version_answer = run.session.post_concurrently(
        [("/v1/events", {"events": batch}), ("/v1/price-books/default/versions", body)]
    )
    now = datetime.now(UTC)
    if usage_answer.status_code == 429:  # held back (a re-rating can leave the view behind): sent again
        usage_answer, now = post_usage(run, batch)
        run.counts["racing batch held back, sent again"] += 1
    assert usage_answer.status_code == 200, usage_answer.text
    # Recorded before the version in the model, so that each usage's charge may show
    # its rating at either side of the version until the next agreement.
    for event, result in zip(batch, usage_answer.json()["results"], strict=True):
        expected = expected_result(run, event, now)
        assert result["status"] == expected["status"], f"event {event}: model {expected}, server {result}"
    price_version_published(run, "default", version, version_answer)
    if run.rng.random() < 0.3:  # within the settling pass's few seconds: it must survive the restart
        run.session.stop()
        run.session.start()
        run.counts["usage batch racing a price version, then a restart"] += 1
    else:
        run.counts["usage batch racing a price version"] += 1


def spend_then_authorize(run: Run) -> None:
    customer = run.rng.choice(run.prepaid())
    before = authorization_model.available(run.model, customer, authorization_model.Window.at(datetime.now(UTC)))
    batch = [run.workload.usage_event(customer, run.boundaries, None) for _ in range(run.rng.randint(3, 15))]
    answer, now = post_usage(run, batch)
    recorded_by = run.session.last_via
    assert answer.status_code == 200, answer.text
    for event, result in zip(batch, answer.json()["results"], strict=True):
        expected = expected_result(run, event, now)
        assert result["status"] == expected["status"], f"event {event}: model {expected}, server {result}"
    after = authorization_model.available(run.model, customer, authorization_model.Window.at(datetime.now(UTC)))
    amount = ((before.low + after.high) / 2).quantize(Decimal("1e-12"))
    if not (ZERO < amount <= before.low and amount > after.high):
        return  # the batch charged nothing certain, or nothing was available before it
    shown = ask_authorization(run, customer, amount, via=run.session.other_than(recorded_by))
    run.counts[f"usage then at once an authorization it no longer covers: {shown}"] += 1


def authorizations_racing(run: Run) -> None:
    customer = run.rng.choice(run.prepaid())
    before = authorization_model.Window.at(datetime.now(UTC))
    room = covered(run, customer, before)
    amount = run.workload.amount("0.01", "1.00")
    if room.low > ZERO:
        factor = Decimal(run.rng.choice(RACING_FACTORS))
        amount = max(Decimal("0.01"), (room.low * factor).quantize(Decimal("1e-12")))
    bodies = [authorization_body(run, customer, amount) for _ in range(2)]
    sent = datetime.now(UTC)
    answers = run.session.post_concurrently([("/v1/authorizations", body) for body in bodies])
    window = authorization_model.Window(sent, datetime.now(UTC))
    assert all(answer.status_code in (201, 402) for answer in answers), [answer.text for answer in answers]
    approved = [(body, answer) for body, answer in zip(bodies, answers, strict=True) if answer.status_code == 201]
    room = covered(run, customer, window)
    alone = authorization_model.certain_answer(run.model, customer, amount, window)
    assert not approved or len(approved) * amount <= room.high, (
        f"{customer}: {len(approved)} authorizations of {amount} approved at once, the money covers at most "
        f"{room.high}: {[answer.text for answer in answers]}"
    )
    assert alone != "approved" or approved, f"{customer}: {amount} is covered, both refused: {answers[0].text}"
    assert alone in (None, "approved") or not approved, f"{customer}: {amount} is not covered: {answers[0].text}"
    for body, answer in approved:
        hold = Hold(body["id"], customer, amount, parse_time(answer.json()["expires_at"]))
        run.model.holds[body["id"]] = hold
    run.authorization_bodies += [(body, answer.status_code) for body, answer in zip(bodies, answers, strict=True)]
    run.counts[f"two authorizations at once, {len(approved)} approved{'' if alone else ' (either answer)'}"] += 1


def covered(run: Run, customer: str, window: authorization_model.Window) -> authorization_model.Span:
    """What the customer's money covers, and its limit leaves if it has one."""
    room = authorization_model.available(run.model, customer, window)
    left = authorization_model.headroom(run.model, customer, window)
    if left is None:
        return room
    return authorization_model.Span(min(room.low, left.low), min(room.high, left.high))
