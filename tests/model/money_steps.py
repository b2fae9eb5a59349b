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

from tests.model.ledger_model import ZERO, Hold, LedgerModel
from tests.model.observations import EXPIRY_SLACK, parse_time
from tests.model.run_state import Run

AUTHORIZATION_FACTORS = ("0.25", "0.5", "0.9", "1", "1", "1.1", "2")


def grant(run: Run) -> None:
    if run.top_up_bodies and run.rng.random() < 0.2:
        return retry_top_up(run)
    customer = run.rng.choice(run.prepaid())
    body = {"id": run.workload.next_id("grant"), "amount": str(run.workload.amount("0.10", "5.00")), "source": "grant"}
    answer = run.session.post(f"/v1/customers/{customer}/top-ups", body)
    assert answer.status_code == 201 and answer.json()["status"] == "succeeded", answer.text
    run.model.customers[customer].grants += Decimal(body["amount"])
    run.top_up_bodies.append((customer, body, 201, "succeeded"))
    return None


def card_top_up(run: Run) -> None:
    customer = run.rng.choice([c for c in run.prepaid() if run.model.customers[c].card])
    found = run.model.customers[customer]
    body = {"id": run.workload.next_id("card"), "amount": str(run.workload.amount("1.00", "10.00")), "source": "stripe"}
    answer = run.session.post(f"/v1/customers/{customer}/top-ups", body)
    expected = "succeeded" if found.card == "good" else "failed"
    assert answer.status_code == 201 and answer.json()["status"] == expected, answer.text
    if expected == "succeeded":
        found.card_top_ups += Decimal(body["amount"])
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
    amount = amount_to_ask(run, customer)
    body: dict[str, Any] = {"id": run.workload.next_id("auth"), "customer": customer, "amount": format(amount, "f"),
            "expires_in_seconds": run.rng.choice([3600, 3600, 3600, 1, 2])}  # fmt: skip
    certain = certain_decision(run.model, customer, amount, datetime.now(UTC))
    answer = run.session.post("/v1/authorizations", body)
    assert answer.status_code in (201, 402), answer.text
    approved = answer.status_code == 201
    if not approved:
        assert answer.json()["code"] == "insufficient_funds", answer.text
    assert certain is None or certain == approved, (
        f"authorization {body}: the model {'approves' if certain else 'refuses'} it for certain "
        f"(available {available_range(run.model, customer, datetime.now(UTC))}), the server answered {answer.text}"
    )
    if approved:
        expires_at = parse_time(answer.json()["expires_at"])
        run.model.holds[body["id"]] = Hold(body["id"], customer, amount, expires_at)
    run.authorization_bodies.append((body, answer.status_code))
    run.counts[
        f"authorization {'approved' if approved else 'refused'}{'' if certain is not None else ' (either)'}"
    ] += 1
    return None


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
    """Around what the customer has available, so that answers fall on both sides
    of it (and exactly on it)."""
    low, _ = available_range(run.model, customer, datetime.now(UTC))
    if low <= ZERO:
        return run.workload.amount("0.01", "1.00")
    factor = Decimal(run.rng.choice(AUTHORIZATION_FACTORS))
    return max(Decimal("0.01"), (low * factor).quantize(Decimal("1e-12")))


def available_range(model: LedgerModel, customer: str, moment: datetime) -> tuple[Decimal, Decimal]:
    """The least and the most the server may find available: every usage at any
    of the charges a pending re-rating may still show, and a hold at its expiry
    open or not."""
    usage = [model.possible_charges[u.key] for u in model.usage_of(customer)]
    charged_most = sum((max(charges) for charges in usage), ZERO)
    charged_least = sum((min(charges) for charges in usage), ZERO)
    before_charges = model.balance(customer) + model.charges(customer)
    holds = [h for h in model.holds.values() if h.customer == customer and not (h.voided or h.captured)]
    surely_held = sum((h.amount for h in holds if h.expires_at > moment + EXPIRY_SLACK), ZERO)
    maybe_held = sum((h.amount for h in holds if abs(h.expires_at - moment) <= EXPIRY_SLACK), ZERO)
    return (
        before_charges - charged_most - surely_held - maybe_held,
        before_charges - charged_least - surely_held,
    )


def certain_decision(model: LedgerModel, customer: str, amount: Decimal, moment: datetime) -> bool | None:
    """Prepaid: approved when balance minus open holds covers the amount. Others
    have no wallet to cover: approved (no limits are set in this run)."""
    if model.customers[customer].billing != "prepaid":
        return True
    low, high = available_range(model, customer, moment)
    if amount <= low:
        return True
    if amount > high:
        return False
    return None
