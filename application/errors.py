"""Expected failures of use cases, each with the contract's machine-readable code.
The edges turn them into problem+json (REST), errors (GraphQL) or exit codes (CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class TallyError(Exception):
    detail: str
    errors: list[dict[str, object]] = field(default_factory=list)
    code = "validation_error"
    status = 422
    title = "The request is not valid"
    retry_after_seconds: ClassVar[int | None] = None  # sent as Retry-After: try again then, not now

    def __str__(self) -> str:
        return self.detail


class ValidationFailed(TallyError):
    pass


class NotFound(TallyError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(TallyError):
    code = "conflict"
    status = 409
    title = "Conflict"


class Unavailable(TallyError):
    """A part the answer depends on is behind or stopped: try again later."""

    code = "unavailable"
    status = 503
    title = "Service unavailable"
