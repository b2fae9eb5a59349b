"""Alerts: raise each alert once per threshold per period (spend
thresholds, low balance, a spike in spend, unpriced usage), and the policy
that raises them after the usage read model moves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from eventsourcing.persistence import IntegrityError

from application.authorizations import limit_period
from application.event_store import EventStore
from application.ports import AlertReads, AuthorizationReads, Checkpoints, Clock, UsageHistory
from application.reference import ReferenceData
from domain.alerts import Alert, is_spike, spend_alerts
from domain.tier_settlement import period_of

CHECKPOINT = "alert-policy"


class Alerts:
    def __init__(
        self,
        store: EventStore,
        reference: ReferenceData,
        alert_reads: AlertReads,
        authorization_reads: AuthorizationReads,
        clock: Clock,
    ) -> None:
        self.store = store
        self.reference = reference
        self.alert_reads = alert_reads
        self.authorization_reads = authorization_reads
        self.clock = clock

    def raise_alerts(self, customer_id: str, unpriced: int = 0) -> int:
        """Raise whatever alerts the customer's figures call for now; each at
        most once per threshold per period (the event store refuses a second).
        `unpriced`: how many of its usage events became unpriced since the last
        pass (recorded so, or unpriced by a version that no longer prices
        them), whatever day they belong to."""
        customer = self.reference.customers.get(customer_id)
        if customer is None:
            return 0
        now = self.clock()
        today = now.date()
        days = self.alert_reads.daily_spend(customer_id, (today - timedelta(days=7)).isoformat(), today.isoformat())
        candidates: list[tuple[str, str, str, str, str]] = []  # kind, period, threshold, message, value
        limits = customer.limits or {}
        if limits:
            start, end = limit_period(limits.get("period", "month"), now)
            period = start.date().isoformat() if limits.get("period") == "day" else period_of(start)
            standing = self.authorization_reads.standing(customer_id, customer.currency, [], start, end)
            balance, spend = standing.balance, standing.spend
            for threshold, message in spend_alerts(limits, spend):
                candidates.append(("spend_threshold", period, threshold, message, str(spend)))
            low = limits.get("low_balance")
            if low is not None and customer.billing == "prepaid" and balance < Decimal(low):
                candidates.append(
                    ("low_balance", period, str(Decimal(low)), f"balance {balance} is below {low}", str(balance))
                )
        spend_today, unpriced_today = days.get(today.isoformat(), (Decimal(0), 0))
        week = [(today - timedelta(days=back)).isoformat() for back in range(7, 0, -1)]
        first = self.alert_reads.first_day(customer_id) if spend_today else None
        seasoned = first is not None and first <= week[0]  # 7 days of history; an idle day counts as zero spend
        history = [days.get(day, (Decimal(0), 0))[0] for day in week] if seasoned else []
        if is_spike(spend_today, history):
            candidates.append(
                (
                    "usage_spike",
                    today.isoformat(),
                    "2x",
                    f"today's spend {spend_today} is over twice the 7-day average",
                    str(spend_today),
                )
            )
        if unpriced_today or unpriced:
            candidates.append(
                (
                    "unpriced_usage",
                    today.isoformat(),
                    "any",
                    f"{unpriced_today} usage events today have no price"
                    + (f"; {unpriced} recorded or re-rated since the last check have none" if unpriced else ""),
                    str(max(unpriced_today, unpriced)),
                )
            )
        raised = 0
        for kind, period, threshold, message, value in candidates:
            try:
                self.store.save(Alert(customer_id, kind, period, threshold, message, value, now))
                raised += 1
            except IntegrityError:
                continue  # raised before in this period
        return raised


class AlertPolicy:
    """After the usage read model moves: the alerts of the customers whose usage changed."""

    def __init__(self, alerts: Alerts, usage_history: UsageHistory, checkpoints: Checkpoints) -> None:
        self.alerts = alerts
        self.usage_history = usage_history
        self.checkpoints = checkpoints

    def step(self) -> int:
        position = self.usage_history.position()
        after = self.checkpoints.get(CHECKPOINT)
        if position <= after:
            return 0
        self.alerts.reference.refresh()
        customers = sorted({customer for customer, _ in self.usage_history.changed_months(after, position)})
        unpriced = self.usage_history.unpriced_changed(after, position)
        raised = sum(self.alerts.raise_alerts(customer, unpriced.get(customer, 0)) for customer in customers)
        self.checkpoints.put(CHECKPOINT, position)
        return raised
