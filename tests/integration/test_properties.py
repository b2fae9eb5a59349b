"""For any set of events, in any arrival order and any batching, balances and
the trial balance come out the same, and every entry balances."""

from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.audit import audit_history
from tests.conftest import open_services
from tests.support import event, expected_charge, seed

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gpt-9"]
CUSTOMERS = ["acme", "globex", "initech"]

usage_event = st.builds(
    lambda customer, model, tokens_in, tokens_out: (customer, model, tokens_in, tokens_out),
    st.sampled_from(CUSTOMERS),
    st.sampled_from(MODELS),
    st.integers(0, 2_000_000),
    st.integers(0, 300_000),
)


def bodies(drawn: list[tuple[str, str, int, int]]) -> list[dict[str, Any]]:
    return [
        event(f"e{i}", customer=c, model=m, input_tokens=tokens_in, output_tokens=tokens_out)
        for i, (c, m, tokens_in, tokens_out) in enumerate(drawn)
    ]


def expected_balances(unique: list[dict[str, Any]]) -> dict[str, Decimal]:
    balances = dict.fromkeys(CUSTOMERS, Decimal("100"))
    for body in unique:
        if body["model"] != "gpt-9":
            balances[body["customer"]] -= expected_charge(body)[1]
    return balances


def run(arrivals: list[dict[str, Any]], cuts: list[int]) -> tuple[dict[str, Decimal], Any]:
    with TemporaryDirectory() as folder:
        services = open_services(f"sqlite:///{Path(folder) / 'p.db'}")
        try:
            seed(services.app, tuple(CUSTOMERS))
            start = 0
            for cut in [*sorted(cuts), len(arrivals)]:
                if cut > start:
                    services.app.metering.record_usage(arrivals[start:cut])
                    start = cut
            services.follower.catch_up()
            report = audit_history(services.app)
            assert report.problems == []
            balances = {c: services.queries.balance(c, "USD")[0] for c in CUSTOMERS}
            return balances, services.queries.trial_balance()
        finally:
            services.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=st.lists(usage_event, min_size=1, max_size=40),
    data=st.data(),
)
def test_any_order_and_batching_gives_the_same_ledger(
    drawn: list[tuple[str, str, int, int]], data: st.DataObject
) -> None:
    unique = bodies(drawn)
    retries = data.draw(st.lists(st.sampled_from(unique), max_size=10), label="retries")
    arrivals = data.draw(st.permutations(unique + retries), label="arrival order")
    cuts = data.draw(st.lists(st.integers(0, len(arrivals)), max_size=6), label="batch cuts")
    balances, trial = run(arrivals, cuts)
    assert balances == expected_balances(unique)
    for currency in trial:
        assert currency.debits == currency.credits
    in_order, trial_in_order = run(unique, [])
    assert in_order == balances
    assert [(a.account, a.debits, a.credits) for c in trial_in_order for a in c.accounts] == [
        (a.account, a.debits, a.credits) for c in trial for a in c.accounts
    ]
