"""The policy that keeps tier settlements current: after the usage read
model moves, it settles the (customer, month) pairs whose usage changed, and
when a month has ended (plus a grace for stragglers) it closes the month for
every tiered customer, which prices volume ladders. Its position is a
checkpoint on the read model's position; a crash repeats a pass, which
settles nothing new the second time."""

from __future__ import annotations

import logging
from datetime import timedelta

from application.ports import Checkpoints, Clock, UsageHistory
from application.tier_settlements import TierSettlements
from domain.tier_settlement import period_bounds, period_of

logger = logging.getLogger(__name__)
CHECKPOINT = "tier-settler"
CLOSE_GRACE = timedelta(hours=1)


class TierSettler:
    def __init__(
        self,
        tiers: TierSettlements,
        usage_history: UsageHistory,
        checkpoints: Checkpoints,
        clock: Clock,
        close_grace: timedelta = CLOSE_GRACE,
    ) -> None:
        self.tiers = tiers
        self.usage_history = usage_history
        self.clock = clock
        self.checkpoints = checkpoints
        self.close_grace = close_grace
        self._closed_through: str | None = None

    def step(self) -> int:
        """Settle what changed, close what ended; returns how many months were settled."""
        settled = self._settle_changed() + self._close_ended()
        if settled:
            logger.info("tier settler: settled %s customer months", settled)
        return settled

    def _settle_changed(self) -> int:
        position = self.usage_history.position()
        after = self.checkpoints.get(CHECKPOINT)
        if position <= after:
            return 0
        tiered = set(self.tiers.tiered_customers())
        settled = 0
        for customer, period in self.usage_history.changed_months(after, position):
            if customer in tiered and self.tiers.settle_tiers(customer, period) is not None:
                settled += 1
        self.checkpoints.put(CHECKPOINT, position)
        return settled

    def _close_ended(self) -> int:
        """Close the month before the current one, once, for every tiered customer."""
        ended = period_of(self.clock() - self.close_grace)
        previous = period_of(period_bounds(ended)[0] - timedelta(days=1))
        if self._closed_through == previous:
            return 0
        settled = sum(
            1 for customer in self.tiers.tiered_customers() if self.tiers.settle_tiers(customer, previous, close=True)
        )
        self._closed_through = previous
        return settled
