"""The hold index against the plain walk it replaces: for any sequence of
placements, releases, sweeps, captures and moments, what it says is held
equals the Holds' open holds at that moment less the captured ones, and the
ids it asks about by id, with the position it asks from, never leave a
capture unseen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from application.hold_index import HoldIndex
from domain.holds import Holds

START = datetime(2026, 12, 1, tzinfo=UTC)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("place"), st.integers(0, 40), st.integers(1, 50), st.integers(1, 10)),
        st.tuples(st.just("release"), st.integers(0, 40)),
        st.tuples(st.just("sweep"), st.lists(st.integers(0, 40), max_size=4)),
        st.tuples(st.just("capture"), st.integers(0, 40)),
        st.tuples(st.just("wait"), st.integers(0, 8)),
        st.tuples(st.just("reload")),
    ),
    max_size=80,
)


def walked(holds: Holds, captured: set[str], now: datetime) -> Decimal:
    return sum((amount for key, amount in holds.open_holds(now).items() if key not in captured), Decimal(0))


def _apply_pending(holds: Holds, index: HoldIndex) -> None:
    index.apply(holds.collect_events())


@settings(max_examples=300, deadline=None)
@given(steps)
def test_held_is_the_walk_over_open_holds(plan: list[tuple[Any, ...]]) -> None:
    holds = Holds("acme")
    known: set[str] = set()
    holds.collect_events()  # the Opened event: the index is built after it
    index = HoldIndex(holds, known)
    now = START
    placed: set[str] = set()
    for step in plan:
        kind = step[0]
        if kind == "place" and f"h{step[1]}" not in placed:
            placed.add(f"h{step[1]}")
            holds.place(f"h{step[1]}", str(Decimal(step[2]) / 100), now + timedelta(minutes=step[3]), now)
        elif kind == "release":
            holds.release(f"h{step[1]}", now)
        elif kind == "sweep":
            holds.sweep([f"h{n}" for n in step[1]], now)
        elif kind == "capture":
            known.add(f"h{step[1]}")
            index.mark_captured([f"h{step[1]}"])
        elif kind == "wait":
            now += timedelta(minutes=step[1])
        elif kind == "reload":
            _apply_pending(holds, index)
            index = HoldIndex(holds, known, index)
        _apply_pending(holds, index)
        assert index.follows(holds)
        assert index.held(now) == walked(holds, known, now)
        assert index.is_open(now) == bool(holds.open_holds(now))
        assert set(index.keys()) <= holds.holds.keys()  # the index forgets expired holds at once


reads = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 3)),
        st.tuples(st.just("capture"), st.integers(0, 30)),
        st.tuples(st.just("foreign"), st.integers(0, 30)),  # another process places a hold
        st.tuples(
            st.just("begin"),
        ),  # a balance read asks (outside the customer's lock)...
        st.tuples(st.just("end"), st.integers(0, 5), st.integers(0, 3)),  # ...and its answer comes back
        st.tuples(st.just("decide"), st.booleans()),  # a decision: its read, then perhaps its hold
    ),
    max_size=80,
)


@settings(max_examples=500, deadline=None)
@given(reads)
# A read that asked no captures since (no hold was covered when it began)
# answers after another read began covering holds: it must not move
# `checked_at` past what that other read covered.
@example([("foreign", 0), ("begin",), ("foreign", 1), ("begin",), ("end", 1, 0), ("capture", 1), ("end", 0, 3)])
def test_what_is_asked_never_misses_a_capture(plan: list[tuple[Any, ...]]) -> None:
    """Reads that ask by id for `new` and for every capture after `since`,
    overlapping in any order (a balance read's answer can come back after a
    later read's), and decisions that place their hold after their read:
    whatever the interleaving, every hold the index counts as checked has
    each capture up to `checked_at` known, and a decision sees every capture
    of an open hold up to its read's position."""
    holds = Holds("acme")
    holds.collect_events()
    known: set[str] = set()
    index = HoldIndex(holds, known)
    captures: dict[str, int] = {}  # hold id -> position of its capture
    in_flight: list[tuple[set[str], int | None, int]] = []
    position = 0
    now = START

    def answer(new: set[str], since: int | None, at: int) -> None:
        seen = {k for k, p in captures.items() if p <= at and (k in new or (since is not None and p > since))}
        known.update(seen)
        index.mark_captured(seen)
        index.covered(new, since, at)

    for number, step in enumerate(plan):
        kind = step[0]
        if kind == "advance":
            position += step[1]
        elif kind == "capture":
            key = f"h{step[1]}"
            if key in index and key not in captures:
                position += 1  # a capture is a new event: past every read so far
                captures[key] = position
        elif kind == "foreign" and f"h{step[1]}" not in holds.holds:
            holds.place(f"h{step[1]}", "1", now + timedelta(seconds=600), now)
            index.apply(holds.collect_events())
        elif kind == "begin":
            new, since = index.to_ask(now)
            in_flight.append((new, since, position))
        elif kind == "end" and in_flight:
            new, since, began = in_flight.pop(step[1] % len(in_flight))
            answer(new, since, began + (position - began) * step[2] // 3)  # read between its start and now
        elif kind == "decide":
            new, since = index.to_ask(now)
            asking = f"h{100 + number}"
            new.add(asking)
            answer(new, since, position)
            missed = {k for k, p in captures.items() if p <= position and k in index} - known
            assert not missed, (missed, since, new)
            if step[1]:
                holds.place(asking, "1", now + timedelta(seconds=600), now)
                index.apply(holds.collect_events())
        checked = set(index.keys()) - index.unchecked
        unseen = {k for k in checked if k in captures and captures[k] <= (index.checked_at or 0)} - known
        assert not unseen, (unseen, index.checked_at)


def test_a_rebuild_keeps_captures_the_shared_set_has_forgotten() -> None:
    """The shared set of known captures is pruned now and then (against the
    index a read began with); a rebuilt index still counts what it learnt."""
    holds = Holds("acme")
    holds.collect_events()
    holds.place("y", "5", START + timedelta(hours=1), START)
    known: set[str] = set()
    index = HoldIndex(holds, known)
    index.mark_captured(["y"])
    known.add("y")
    known.clear()  # pruned by a read that began before y
    rebuilt = HoldIndex(holds, known, index)
    assert rebuilt.held(START) == 0 and "y" in rebuilt.captured


def test_a_read_counts_the_holds_as_they_were_when_it_began() -> None:
    """A balance read asks outside the customer's lock: a hold placed, or a
    capture learnt, while it waits pairs with a later balance than the one
    it read, so its `held` leaves both out."""
    holds = Holds("acme")
    holds.collect_events()
    known: set[str] = set()
    holds.place("x", "10", START + timedelta(hours=1), START)
    holds.place("y", "3", START + timedelta(hours=1), START)
    holds.collect_events()
    index = HoldIndex(holds, known)
    moment = index.moment(START)
    assert moment[0] == 13
    holds.place("z", "7", START + timedelta(hours=1), START)  # a decision meanwhile
    index.apply(holds.collect_events())
    index.mark_captured(["x"])  # another read learnt x captured (after this read's position)
    assert index.held_after(moment, [], START) == 13  # as at the start: x held, z not yet there
    assert index.held_after(moment, ["y", "z"], START) == 10  # its own capture of y counts; z joined later
    assert index.held(START) == 10  # the index itself: y and z open, x captured
    later = index.moment(START)
    assert index.held_after(later, ["x"], START) == 10  # x was captured before this read began: not taken twice
