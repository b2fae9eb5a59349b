"""One customer's open holds as a decision needs them, kept in step with the
customer's Holds event by event, so that a decision costs the same with
4,000 open holds as with none.

A decision needs three things of the open holds: what they keep back (the
ones usage has not captured), which of them to ask the read model about by
id (those never asked about) and from which position to ask for the rest's
captures. Worked out from the Holds' dict, each was a walk over every open
hold: about a microsecond a hold, a decision at 0.7 ms with none and 4.9 ms
with 4,000 (an operator that authorizes and lets holds expire, or a gateway
with long expiries). Here each is kept as the holds change:

- `total` and `captured_total` are running sums; at each of the Holds'
  events, the holds expired by its moment are forgotten (through a heap of
  expiries; the Holds forget them later, `Holds._forget_expired`), and what
  has expired since then is found by walking only the expired part of the
  heap;
- `unchecked` holds the ids never covered by a read of captures;
- `checked_at` is the read model's position as of which every other hold's
  captures are known (see `covered`).

The index is this process's own and never stored: built from the Holds
when they are loaded, and rebuilt (keeping what was learnt of captures)
whenever it is not at the Holds' version."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.holds import Holds
from domain.money import ZERO


class HoldIndex:
    def __init__(self, holds: Holds, known_captured: set[str], previous: HoldIndex | None = None) -> None:
        self.holds = holds  # the Holds object this index follows
        self.version: int = holds.version
        self._known_captured = known_captured  # the customer's, shared with the caller
        self._amounts: dict[str, tuple[Decimal, datetime]] = {}
        # The order in which holds joined the index and captures became known
        # in it, so that a read made outside the customer's lock can count
        # what was open and uncaptured when it began (`moment`, `held_after`).
        self._joined: dict[str, int] = {}
        self._changes = 0
        self._expiries: list[tuple[datetime, str]] = []
        self.total = ZERO  # of every hold in the index, expired since or not
        self.captured: dict[str, int] = {}  # the holds in the index known captured, each with when it became known
        self.captured_total = ZERO
        self.unchecked: set[str] = set()
        self.checked_at: int | None = None
        # Ids the last covering read asked about by id before their hold was
        # in the index (a decision asks about the id it decides, then places
        # it): once placed, they are covered, not unchecked.
        self._ahead: set[str] = set()
        for key, hold in holds.holds.items():
            self._add(key, hold["amount"], hold["expires_at"])
        if previous is None:
            self.unchecked = set(self._amounts)
        else:  # what was learnt before the rebuild still holds
            self.mark_captured(previous.captured)  # whether or not still in the shared set
            self.checked_at = previous.checked_at
            self.unchecked = {
                key
                for key in self._amounts
                if key in previous.unchecked or (key not in previous._amounts and key not in previous._ahead)
            }

    def keys(self) -> Iterable[str]:
        return self._amounts.keys()

    def __len__(self) -> int:
        return len(self._amounts)

    def __contains__(self, key: object) -> bool:
        return key in self._amounts

    def follows(self, holds: Holds) -> bool:
        return self.holds is holds and self.version == holds.version

    def apply(self, events: Iterable[Any]) -> None:
        """The Holds' new events (already applied to the Holds), in order."""
        for event in events:
            kind = type(event).__name__
            if kind == "Placed":
                self._expire(event.at)
                self._add(event.authorization_id, Decimal(event.amount), event.expires_at)
                if event.authorization_id in self._ahead:
                    self._ahead.discard(event.authorization_id)
                else:
                    self.unchecked.add(event.authorization_id)
            elif kind == "Released":
                self._expire(event.at)
                self._remove(event.authorization_id)
            elif kind == "Swept":
                self._expire(event.at)
                for key in event.authorization_ids:
                    self._remove(key)
            self.version = event.originator_version

    def mark_captured(self, ids: Iterable[str]) -> None:
        for key in ids:
            found = self._amounts.get(key)
            if found is not None and key not in self.captured:
                self._changes += 1
                self.captured[key] = self._changes
                self.captured_total += found[0]

    def held(self, now: datetime) -> Decimal:
        """What the holds open at `now` that usage has not captured keep back."""
        return (
            self.total
            - self.captured_total
            - sum((self._amounts[key][0] for key in self._expired_by(now) if key not in self.captured), ZERO)
        )

    def moment(self, now: datetime) -> tuple[Decimal, int]:
        """What `held(now)` is now, and a mark of this moment, for `held_after`."""
        return self.held(now), self._changes

    def held_after(self, moment: tuple[Decimal, int], captured: Iterable[str], now: datetime) -> Decimal:
        """What was held at `moment` less the holds among `captured` that
        were in the index then, uncaptured and open at `now`: a read's own
        captures counted against the holds as they were when it began, not
        as decisions made meanwhile left them (a hold placed since, or a
        capture learnt since, would otherwise pair with a balance read
        before them). A hold gone meanwhile is not taken off (too much held
        for that read, never too little)."""
        held, mark = moment
        for key in set(captured):
            found = self._amounts.get(key)
            if found is None or self._joined[key] > mark or found[1] <= now:
                continue
            known = self.captured.get(key)
            if known is None or known > mark:
                held -= found[0]
        return held

    def is_open(self, now: datetime) -> bool:
        return len(self._amounts) > len(self._expired_by(now))

    def to_ask(self, now: datetime) -> tuple[set[str], int | None]:
        """The ids to ask about by id (open and never asked about), and the
        position to ask for captures after (None: no hold was ever covered)."""
        new = {key for key in self.unchecked if self._amounts[key][1] > now}
        return new, self.checked_at if len(self._amounts) > len(self.unchecked) else None

    def covered(self, asked: set[str], since: int | None, position: int) -> None:
        """A read of captures at the read model's `position` asked about
        `asked` by id and, when `since` is not None, for every capture after
        `since`: those ids' captures up to `position` are known, and so are
        the other holds' (known up to `since`, and since then read).

        A read that overlapped another (balance reads are made outside the
        customer's lock) claims nothing beyond what it read: if another read
        began covering holds after this one began with none covered, this
        one did not ask for their captures, and changes nothing (its ids are
        asked by id again next time; tests/unit/test_hold_index.py has the
        interleaving). If another read moved `checked_at` past this one's
        position, this one changes nothing either: moving it back would be
        safe, but would ask for more captures next time."""
        if self.checked_at is not None and position < self.checked_at:
            return
        if since is None and len(self._amounts) > len(self.unchecked):
            return  # another read covered holds meanwhile, and this one did not ask since
        self.checked_at = position
        self.unchecked -= asked
        self._ahead = {key for key in asked if key not in self._amounts}

    def _expired_by(self, now: datetime) -> list[str]:
        """Ids in the index whose hold expired by `now`: the heap's entries
        at or before it, walked from the root (only those, and their
        children), skipping entries of holds gone since."""
        found: list[str] = []
        heap, amounts = self._expiries, self._amounts
        stack = [0] if heap else []
        while stack:
            index = stack.pop()
            expires_at, key = heap[index]
            if expires_at > now:
                continue
            held = amounts.get(key)
            if held is not None and held[1] == expires_at:
                found.append(key)
            stack.extend(child for child in (2 * index + 1, 2 * index + 2) if child < len(heap))
        return found

    def _add(self, key: str, amount: Decimal, expires_at: datetime) -> None:
        self._remove(key)
        self._amounts[key] = (amount, expires_at)
        self._changes += 1
        self._joined[key] = self._changes
        heapq.heappush(self._expiries, (expires_at, key))
        self.total += amount
        if key in self._known_captured:
            self.captured[key] = self._changes
            self.captured_total += amount

    def _remove(self, key: str) -> None:
        found = self._amounts.pop(key, None)
        if found is None:
            return
        self.total -= found[0]
        del self._joined[key]
        self.unchecked.discard(key)
        if self.captured.pop(key, None) is not None:
            self.captured_total -= found[0]

    def _expire(self, at: datetime) -> None:
        """Forget the holds expired by `at`, the moment of one of the Holds' events."""
        heap, amounts = self._expiries, self._amounts
        while heap and heap[0][0] <= at:
            expires_at, key = heapq.heappop(heap)
            held = amounts.get(key)
            if held is not None and held[1] == expires_at:
                self._remove(key)
        if len(heap) > 2 * len(amounts) + 64:  # entries of holds released or swept: rebuilt now and then
            self._expiries = [(expires_at, key) for key, (_, expires_at) in amounts.items()]
            heapq.heapify(self._expiries)
