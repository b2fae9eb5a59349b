"""Invariants that hold money together are checked in production, not only
in development: `python -O` strips `assert`, never a `require`.

InvariantViolated subclasses AssertionError, so whatever treats a broken
assertion as a broken history (the audit, the projections) treats these
alike."""

from __future__ import annotations


class InvariantViolated(AssertionError):
    """A rule the ledger rests on does not hold: a bug or a corrupted history, never bad input."""


def require(condition: object, message: object = "") -> None:
    if not condition:
        raise InvariantViolated(str(message) if message != "" else "invariant violated")
