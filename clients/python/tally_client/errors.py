"""What the server answered when it said no: its problem+json, as an exception."""

from __future__ import annotations

from typing import Any


class TallyError(Exception):
    """A 4xx or 5xx from tally (RFC 9457 problem+json), or a request that kept failing."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {}


class AuthorizationDenied(TallyError):
    """402: the customer may not spend this (insufficient_funds,
    spending_limit_exceeded or account_past_due). Asking again with the same
    authorization id gives the same answer."""
