"""Wallet and control steps: grants and card top-ups (through the local Stripe
server, a good card and a declined one), their retries, and authorizations
with their retries and voids. An authorization's answer is checked against
the model whenever it is certain: when no re-rating still pending, and no
hold at its expiry, could move the available amount across the amount
asked. Otherwise either answer is accepted, and the model keeps the hold
the server placed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.model import authorization_model
from tests.model.ledger_model import ZERO, Hold
from tests.model.observations import parse_time
from tests.model.run_state import CardPayment, Run

AUTHORIZATION_FACTORS = ("0.25", "0.5", "0.9", "1", "1", "1.1", "2")


def grant(run: Run) -> None:
    pick = run.rng.random()
    if run.top_up_bodies and pick < 0.2:
        return retry_top_up(run)
    if pick < 0.3:
        return refused_top_up(run)
    customer = run.rng.choice(run.prepaid())
    body = {"id": run.workload.next_id("grant"), "amount": str(run.workload.amount("0.10", "5.00")), "source": "grant"}
    answer = run.session.post(f"/v1/customers/{customer}/top-ups", body)
    assert answer.status_code == 201 and answer.json()["status"] == "succeeded", answer.text
    run.model.customers[customer].grants += Decimal(body["amount"])
    run.top_up_bodies.append((customer, body, 201, "succeeded"))
    return None


def refused_top_up(run: Run) -> None:
    """Bad input is a 4xx problem and changes nothing: a grant to a customer
    without a wallet, or an amount that is not a positive decimal of at most
    12 places."""
    customer, amount = run.rng.choice(run.prepaid()), run.rng.choice(["0", "-1", "0.0000000000001", "1e3", "ten"])
    if run.rng.random() < 0.3:
        customer, amount = run.rng.choice([c for c in run.customers() if c not in run.prepaid()]), "1.00"
    body = {"id": run.workload.next_id("grant"), "amount": amount, "source": "grant"}
    answer = run.session.post(f"/v1/customers/{customer}/top-ups", body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    assert answer.json()["code"] == "validation_error", answer.text
    run.counts["top-up refused"] += 1


def card_top_up(run: Run) -> None:
    customer = run.rng.choice([c for c in run.prepaid() if run.model.customers[c].card])
    found = run.model.customers[customer]
    body = {"id": run.workload.next_id("card"), "amount": str(run.workload.amount("1.00", "10.00")), "source": "stripe"}
    answer = run.session.post(f"/v1/customers/{customer}/top-ups", body)
    expected = "succeeded" if found.card == "good" else "failed"
    assert answer.status_code == 201 and answer.json()["status"] == expected, answer.text
    if expected == "succeeded":
        found.card_top_ups += Decimal(body["amount"])
        run.card_payments.append(CardPayment(customer, answer.json()["payment_intent"], Decimal(body["amount"])))
    run.top_up_bodies.append((customer, body, 201, expected))
    run.counts[f"card top-up {expected}"] += 1


def retry_top_up(run: Run) -> None:
    """The same id and body answers 200 with the first top-up; another body is a 409."""
    customer, body, _, status = run.rng.choice(run.top_up_bodies)
    if run.rng.random() < 0.3:
        changed = {**body, "amount": str(Decimal(body["amount"]) + 1)}
        answer = run.session.post(f"/v1/customers/{customer}/top-ups", changed)
        assert answer.status_code == 409 and answer.json()["code"] == "conflict", answer.text
        run.counts["top-up retried with another body"] += 1
        return
    answer = run.session.post(f"/v1/customers/{customer}/top-ups", body)
    assert answer.status_code == 200 and answer.json()["status"] == status, answer.text
    run.counts["top-up retried"] += 1


def authorize(run: Run) -> None:
    if run.authorization_bodies and run.rng.random() < 0.15:
        return retry_authorization(run)
    customer = run.rng.choice(run.customers())
    ask_authorization(run, customer, amount_to_ask(run, customer))
    return None


def ask_authorization(run: Run, customer: str, amount: Decimal, via: int | None = None) -> str:
    """Ask (through process `via`, else any), check the answer against the model where it is sure, keep the hold."""
    body = authorization_body(run, customer, amount)
    sent = datetime.now(UTC)
    answer = run.session.post("/v1/authorizations", body, via=via)
    window = authorization_model.Window(sent, datetime.now(UTC))
    certain = authorization_model.certain_answer(run.model, customer, amount, window)
    assert answer.status_code in (201, 402), answer.text
    shown = "approved" if answer.status_code == 201 else answer.json()["code"]
    assert shown in ("approved", "account_past_due", "insufficient_funds", "spending_limit_exceeded"), answer.text
    assert certain in (None, shown), (
        f"authorization {body}: the model is sure of {certain} (available "
        f"{authorization_model.available(run.model, customer, window)}, the limit leaves "
        f"{authorization_model.headroom(run.model, customer, window)}), the server answered {answer.text}"
    )
    if shown == "approved":
        expires_at = parse_time(answer.json()["expires_at"])
        run.model.holds[body["id"]] = Hold(body["id"], customer, amount, expires_at)
    run.authorization_bodies.append((body, answer.status_code))
    run.counts[f"authorization {shown}{'' if certain else ' (either answer)'}"] += 1
    return shown


def authorization_body(run: Run, customer: str, amount: Decimal) -> dict[str, Any]:
    return {"id": run.workload.next_id("auth"), "customer": customer, "amount": format(amount, "f"),
            "expires_in_seconds": run.rng.choice([3600, 3600, 3600, 1, 2])}  # fmt: skip


def retry_authorization(run: Run) -> None:
    """The same id and body returns the first answer, a refusal included; another body is a 409."""
    body, status = run.rng.choice(run.authorization_bodies)
    if run.rng.random() < 0.3:
        answer = run.session.post("/v1/authorizations", {**body, "amount": str(Decimal(body["amount"]) + 1)})
        assert answer.status_code == 409, answer.text
        run.counts["authorization retried with another body"] += 1
        return
    answer = run.session.post("/v1/authorizations", body)
    assert answer.status_code == status, f"retry of {body}: first {status}, now {answer.text}"
    run.counts["authorization retried"] += 1


def void(run: Run) -> None:
    if not run.authorization_bodies:
        return
    body, _ = run.rng.choice(run.authorization_bodies)
    answer = run.session.post(f"/v1/authorizations/{body['id']}/void")
    assert answer.status_code == 200, answer.text
    hold = run.model.holds.get(body["id"])
    shown = answer.json()["status"]
    if hold is None:
        assert shown == "denied", answer.text
    else:  # a capture shows once the read model has it
        assert shown == "voided" or (hold.captured and shown == "captured"), f"{hold}: {answer.text}"
        hold.voided = True
    run.counts["void"] += 1


def amount_to_ask(run: Run, customer: str) -> Decimal:
    """Around what the customer has available, or what its limit leaves, so that
    answers fall on both sides of it (and exactly on it)."""
    now = authorization_model.Window.at(datetime.now(UTC))
    left = authorization_model.headroom(run.model, customer, now)
    if left is not None and run.rng.random() < 0.5:
        room = left.low
    else:
        room = authorization_model.available(run.model, customer, now).low
    if room <= ZERO:
        return run.workload.amount("0.01", "1.00")
    factor = Decimal(run.rng.choice(AUTHORIZATION_FACTORS))
    return max(Decimal("0.01"), (room * factor).quantize(Decimal("1e-12")))


def set_limits(run: Run) -> None:
    """A hard limit per day or month a little above what the period has spent,
    changed now and then, or removed."""
    customer = run.rng.choice(run.customers())
    found = run.model.customers[customer]
    if found.limit is not None and run.rng.random() < 0.25:
        answer = run.session.request("DELETE", f"/v1/customers/{customer}/limits")
        assert answer.status_code == 200, answer.text
        found.limit = None
        run.counts["limit removed"] += 1
        return
    period = run.rng.choice(["month", "month", "day"])
    start, end = authorization_model.limit_period(period, datetime.now(UTC))
    spent = authorization_model.charged(run.model, customer, start, end).high
    hard_limit = (spent + run.workload.amount("0.10", "3.00")).quantize(Decimal("0.01"))
    answer = run.session.request("PUT", f"/v1/customers/{customer}/limits",
                                 {"period": period, "hard_limit": str(hard_limit)})  # fmt: skip
    assert answer.status_code == 200, answer.text
    found.limit = (period, hard_limit)
    run.counts[f"limit per {period}"] += 1
