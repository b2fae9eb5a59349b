"""Changes of plan (`PATCH /v1/customers/{id}` with a `plan`): between plans
of the customer's currency, onto a plan of another price book and onto one
whose price book leaves out models the old one priced, and back; a change
that leaves the plan as it was; refused changes (a plan in another
currency, a plan that does not exist), 422 problems that change nothing;
and a usage batch sent at the same moment as a change, half of its usage
timestamped ahead of it, which the version watcher must move to the new
plan whichever of the two the server handled first.

A change takes effect at the server's clock when it handled the request,
which the model knows only as the window between sending and answering
(plan_history.py). The workload keeps new usage out of the windows; usage
recorded earlier and timestamped inside one (usage may run five minutes
ahead of the clock), and now and then a usage sent into a window on
purpose, is under either plan: a probe at the same moment asks the server
which (its batch rates it under the plan it holds for that moment), and
the model holds the server to that answer from then on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.model.metering_steps import as_usage, expected_result, post_usage, ready_for_usage
from tests.model.plan_history import PlanChange
from tests.model.rating_model import in_force
from tests.model.run_state import Run
from tests.model.workload import BASE_RATES, ONE_MICROSECOND, stamp

PROBE_SHARE = 0.25  # of the changes, those followed by a usage sent inside their own window
RACING_EVENTS = (5, 30)
AHEAD_SECONDS = (2.0, 120.0)  # racing usage timestamped this far ahead of the change


def change_plan(run: Run) -> None:
    pick = run.rng.random()
    if pick < 0.1:
        return refused_change(run)
    if pick < 0.15:
        return unchanged_plan(run)
    customer = run.rng.choice(run.customers())
    plan = run.rng.choice(other_plans(run, customer))
    previous = run.model.customers[customer].plan
    sent = datetime.now(UTC)
    answer = run.session.request("PATCH", f"/v1/customers/{customer}", {"plan": plan})
    change = PlanChange(sent, datetime.now(UTC), previous, plan)
    assert answer.status_code == 200 and answer.json()["plan"] == plan, answer.text
    changed(run, customer, change, probe=run.rng.random() < PROBE_SHARE)
    run.counts[f"plan change {price_books_of(run, change)}"] += 1
    return None


def other_plans(run: Run, customer: str) -> list[str]:
    """The plans of the customer's currency it is not on now."""
    found = run.model.customers[customer]
    return sorted(p for p in run.model.plans if run.model.currency_of(p) == found.currency and p != found.plan)


def price_books_of(run: Run, change: PlanChange) -> str:
    before, after = run.model.price_book_of[change.previous], run.model.price_book_of[change.plan]
    return "within a price book" if before == after else f"from price book {before} to {after}"


def changed(run: Run, customer: str, change: PlanChange, probe: bool) -> None:
    """Into the model: the change, the server's plan for each usage inside its
    window, then what each usage's charge may show until the re-rating is done."""
    run.model.change_plan(customer, change)
    run.workload.plan_windows.setdefault(customer, []).append((change.sent, change.answered))
    run.boundaries += [change.sent - ONE_MICROSECOND, change.answered + ONE_MICROSECOND]
    inside = [usage for usage in run.model.usage_of(customer) if change.holds(usage.timestamp)]
    moments = {usage.timestamp for usage in inside}
    if probe:
        span = (change.answered - change.sent) * run.rng.random()
        moments.add(change.sent + timedelta(microseconds=span // ONE_MICROSECOND))
    chosen = {moment: server_plan_at(run, customer, change, moment) for moment in sorted(moments)}
    ordered = [chosen[moment] for moment in sorted(chosen)]
    assert ordered == sorted(ordered, key=lambda plan: plan == change.plan), (
        f"{customer}'s change {change}: the server puts these moments of its window under plans that no one "
        f"moment of change explains: {sorted(chosen.items())}"
    )
    for usage in inside:
        run.model.settle_plan(usage, chosen[usage.timestamp])
    run.model.widen()
    run.quiet = False
    if inside:
        run.counts["usage recorded ahead and inside a later change's window"] += len(inside)


def server_plan_at(run: Run, customer: str, change: PlanChange, moment: datetime) -> str:
    """Which of the change's two plans the server holds for `moment`: a usage at
    that moment, priced under at least one of them, is rated (or left unpriced)
    under it by the batch that records it."""
    event = probe_event(run, customer, change, moment)
    answer, now = post_usage(run, [event])
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert result["status"] == "accepted", result
    shown = run.session.get(f"/v1/events/{customer}/{event['id']}").json()
    usage = as_usage(event)
    unpriced_under = [plan for plan in (change.previous, change.plan) if run.model.rating_under(usage, plan) is None]
    if shown["status"] == "rated":
        plan = str(shown["rating"]["plan"])
        assert plan in (change.previous, change.plan) and plan not in unpriced_under, (change, shown)
    else:
        assert len(unpriced_under) == 1, f"{event}: unpriced under {unpriced_under}, the server shows {shown}"
        plan = unpriced_under[0]
    run.model.settle_plan(usage, plan)
    expected = expected_result(run, event, now)
    assert (result["status"], result.get("warnings", [])) == (expected["status"], expected["warnings"]), (
        f"usage {event} inside the window of {change}, under {plan}: model {expected}, server {result}"
    )
    run.counts[f"usage inside a change's window, under the {'new' if plan == change.plan else 'old'} plan"] += 1
    return plan


def probe_event(run: Run, customer: str, change: PlanChange, moment: datetime) -> dict[str, Any]:
    """A usage at `moment` of a model that one of the two plans' price versions in force then prices."""
    models = sorted(BASE_RATES)
    run.rng.shuffle(models)
    for provider, model in models:
        for plan in (change.plan, change.previous):
            version = in_force(run.model.prices[run.model.price_book_of[plan]], moment)
            units = sorted(u for p, m, u in (version.rates if version else {}) if (p, m) == (provider, model))
            if units:
                return {"id": run.workload.next_id("probe"), "customer": customer, "timestamp": stamp(moment, run.rng),
                        "provider": provider, "model": model, "usage": {run.rng.choice(units): 1000}}  # fmt: skip
    raise AssertionError(f"no model is priced at {moment} under {change.previous} or {change.plan}")


def refused_change(run: Run) -> None:
    """A plan in another currency, or one that does not exist: a 422 problem, and the plan stays."""
    customer = run.rng.choice(run.customers())
    found = run.model.customers[customer]
    foreign = sorted(p for p in run.model.plans if run.model.currency_of(p) != found.currency)
    plan = run.rng.choice([*foreign, "no-such-plan"])
    answer = run.session.request("PATCH", f"/v1/customers/{customer}", {"plan": plan})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    assert answer.json()["code"] == "validation_error", answer.text
    shown = run.session.get(f"/v1/customers/{customer}").json()
    assert shown["plan"] == found.plan, f"a refused change to {plan} left {customer} on {shown['plan']}"
    run.counts["plan change refused"] += 1


def unchanged_plan(run: Run) -> None:
    """The plan it is on, or a new name alone: no change of plan, nothing to re-rate."""
    customer = run.rng.choice(run.customers())
    found = run.model.customers[customer]
    body = {"plan": found.plan} if run.rng.random() < 0.5 else {"name": run.workload.next_id(customer.title())}
    answer = run.session.request("PATCH", f"/v1/customers/{customer}", body)
    assert answer.status_code == 200 and answer.json()["plan"] == found.plan, answer.text
    run.counts["plan left as it was"] += 1


def usage_racing_a_change(run: Run) -> None:
    customer = run.rng.choice(run.customers())
    plan = run.rng.choice(other_plans(run, customer))
    batch = [racing_event(run, customer) for _ in range(run.rng.randint(*RACING_EVENTS))]
    previous = run.model.customers[customer].plan
    ready_for_usage(run)  # the batch is taken at its first sending, racing the change
    sent = datetime.now(UTC)
    usage_answer, change_answer = run.session.concurrently(
        [("POST", "/v1/events", {"events": batch}), ("PATCH", f"/v1/customers/{customer}", {"plan": plan})]
    )
    change = PlanChange(sent, datetime.now(UTC), previous, plan)
    assert change_answer.status_code == 200 and change_answer.json()["plan"] == plan, change_answer.text
    if usage_answer.status_code == 429:  # held back (a re-rating can leave the view behind): sent again
        usage_answer, sent = post_usage(run, batch)
        run.counts["racing batch held back, sent again"] += 1
    assert usage_answer.status_code == 200, usage_answer.text
    # Recorded under the plan before the change: whichever the batch read, each usage's
    # charge may show its rating on either side of the change until the next agreement.
    for event, result in zip(batch, usage_answer.json()["results"], strict=True):
        expected = expected_result(run, event, sent)
        assert result["status"] == expected["status"], f"event {event}: model {expected}, server {result}"
    changed(run, customer, change, probe=False)
    run.counts["usage batch racing a change of plan"] += 1


def racing_event(run: Run, customer: str) -> dict[str, Any]:
    event = run.workload.usage_event(customer, run.boundaries, None)
    if run.rng.random() < 0.5:
        ahead = datetime.now(UTC) + timedelta(seconds=run.rng.uniform(*AHEAD_SECONDS))
        event["timestamp"] = stamp(ahead, run.rng)
    return event
