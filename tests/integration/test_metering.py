"""Recording usage through the application, on SQLite and PostgreSQL."""

from decimal import Decimal

from interfaces.bootstrap import Services
from tests.conftest import open_services
from tests.support import event, expected_charge, seed


def statuses(results: list) -> list[str]:  # type: ignore[type-arg]
    return [result.status for result in results]


def balance(services: Services, customer: str = "acme") -> Decimal:
    services.follower.catch_up()
    return services.queries.balance(customer, "USD")[0]


def test_the_wallet_goes_down_by_usage_times_price_times_one_plus_markup(services: Services) -> None:
    seed(services.app)
    bodies = [
        event("e1"),
        event("e2", model="gpt-4o-mini"),
        event("e3", model="claude-sonnet-4-5", input_tokens=7, output_tokens=0),
    ]
    assert statuses(services.app.metering.record_usage(bodies)) == ["accepted"] * 3
    charged = sum((expected_charge(body)[1] for body in bodies), Decimal(0))
    assert balance(services) == Decimal("100") - charged
    assert balance(services, "globex") == Decimal("100")


def test_an_id_is_accepted_once_within_a_batch_and_across_batches(services: Services) -> None:
    seed(services.app)
    assert statuses(services.app.metering.record_usage([event("e1"), event("e1"), event("e2")])) == [
        "accepted",
        "duplicate",
        "accepted",
    ]
    assert statuses(services.app.metering.record_usage([event("e2"), event("e3")])) == ["duplicate", "accepted"]
    assert balance(services) == Decimal("100") - 3 * expected_charge(event("e1"))[1]


def test_the_same_id_for_another_customer_is_another_event(services: Services) -> None:
    seed(services.app)
    assert (
        statuses(services.app.metering.record_usage([event("e1"), event("e1", customer="globex")])) == ["accepted"] * 2
    )


def test_the_same_id_with_another_body_is_a_conflict_and_the_first_stands(services: Services) -> None:
    seed(services.app)
    services.app.metering.record_usage([event("e1")])
    (result,) = services.app.metering.record_usage([event("e1", input_tokens=999_999)])
    assert result.status == "rejected"
    assert result.error is not None and result.error["code"] == "conflict"
    assert balance(services) == Decimal("100") - expected_charge(event("e1"))[1]


def test_duplicates_hold_across_a_restart(database_url: str) -> None:
    first = open_services(database_url)
    seed(first.app)
    first.app.metering.record_usage([event("e1"), event("e2")])
    first.close()
    second = open_services(database_url)
    try:
        assert statuses(second.app.metering.record_usage([event("e2"), event("e1"), event("e3")])) == [
            "duplicate",
            "duplicate",
            "accepted",
        ]
        assert balance(second) == Decimal("100") - 3 * expected_charge(event("e1"))[1]
    finally:
        second.close()


def test_one_bad_event_never_spoils_its_batch(services: Services) -> None:
    seed(services.app)
    results = services.app.metering.record_usage(
        [event("e1"), event("e2", customer="nobody"), {**event("e3"), "usage": {"input_tokens": -5}}, event("e4")]
    )
    assert statuses(results) == ["accepted", "rejected", "rejected", "accepted"]
    assert results[1].error == {"code": "not_found", "detail": "unknown customer 'nobody'", "loc": "customer"}
    assert balance(services) == Decimal("100") - 2 * expected_charge(event("e1"))[1]


def test_unpriced_usage_is_kept_with_a_warning_and_posts_nothing(services: Services) -> None:
    seed(services.app)
    (result,) = services.app.metering.record_usage([event("e1", model="gpt-9")])
    assert (result.status, result.warnings) == ("accepted", ["unpriced"])
    usage = services.app.metering.find_usage("acme", "e1")
    assert usage is not None and usage.rating is None
    assert balance(services) == Decimal("100")


def test_a_recorded_event_shows_its_rating(services: Services) -> None:
    seed(services.app)
    services.app.metering.record_usage([event("e1")])
    usage = services.app.metering.find_usage("acme", "e1")
    assert usage is not None and usage.rating is not None
    assert (usage.rating.price_version, usage.rating.plan_version) == (1, 1)
    assert (usage.rating.cost, usage.rating.charge) == expected_charge(event("e1"))


class BlindOnce:
    """A usage index that misses what another writer saved a moment ago, once:
    the race the event store's unique key must catch."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.calls = 0

    def existing(self, usage_ids):  # type: ignore[no-untyped-def]
        self.calls += 1
        return {} if self.calls == 1 else self.real.existing(usage_ids)


def test_a_race_lost_to_another_writer_is_retried_without_its_ids(database_url: str) -> None:
    first, second = open_services(database_url), open_services(database_url)
    try:
        seed(first.app)
        first.app.metering.record_usage([event("e1"), event("e2", input_tokens=5)])
        second.app.metering.usage_index = BlindOnce(second.app.metering.usage_index)  # type: ignore[assignment]
        results = second.app.metering.record_usage([event("e0"), event("e1"), event("e2"), event("e3")])
        assert statuses(results) == ["accepted", "duplicate", "rejected", "accepted"]
        assert results[2].error is not None and results[2].error["code"] == "conflict"
        assert second.app.metering.usage_index.calls == 2  # type: ignore[attr-defined]
        expected = (
            Decimal("100") - 3 * expected_charge(event("e1"))[1] - expected_charge(event("e2", input_tokens=5))[1]
        )
        assert balance(second) == expected
    finally:
        first.close()
        second.close()
