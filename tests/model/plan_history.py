"""A customer's plans over time, as the model knows them (docs/rating.md,
"When a customer changes plan"): the plan it registered with, then each
change of plan. A change takes effect at the server's clock when it handled
the PATCH, a moment the model knows only to lie between sending the request
and receiving its answer: usage timestamped after that window is under the
new plan, usage before it under the plan in force then, and usage inside it
under either, so the model takes the server's word for those events alone
(one probe each, see plan_change_steps.py) and holds it to that word after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class PlanChange:
    sent: datetime  # read just before the PATCH was sent
    answered: datetime  # read just after its answer came
    previous: str
    plan: str

    def __post_init__(self) -> None:
        assert self.sent <= self.answered, self
        assert self.previous != self.plan, "a change that leaves the plan as it was is no change"

    def holds(self, moment: datetime) -> bool:
        """Whether the change may have taken effect after `moment` as well as at or before it."""
        return self.sent <= moment <= self.answered


@dataclass
class PlanHistory:
    registered: str
    changes: list[PlanChange] = field(default_factory=list)

    @property
    def current(self) -> str:
        return self.changes[-1].plan if self.changes else self.registered

    def change(self, change: PlanChange) -> None:
        assert change.previous == self.current, (change, self.current)
        assert not self.changes or self.changes[-1].answered <= change.sent, "one change at a time"
        self.changes.append(change)

    def at(self, moment: datetime) -> str | None:
        """The plan at `moment`, or None when a change's window holds it."""
        found = self.registered
        for change in self.changes:
            if change.holds(moment):
                return None
            if change.answered < moment:
                found = change.plan
        return found

    def window_at(self, moment: datetime) -> PlanChange | None:
        return next((change for change in self.changes if change.holds(moment)), None)

    def plans(self) -> set[str]:
        return {self.registered, *(change.plan for change in self.changes)}
