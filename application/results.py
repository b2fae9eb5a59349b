"""What use cases answer, as plain data the edges serialise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UsageResult:
    id: str | None
    status: str  # accepted | duplicate | rejected
    error: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.error is not None:
            data["error"] = self.error
        if self.warnings:
            data["warnings"] = self.warnings
        return data


def rejected(event_id: str | None, code: str, detail: str, loc: str | None = None) -> UsageResult:
    error: dict[str, Any] = {"code": code, "detail": detail}
    if loc is not None:
        error["loc"] = loc
    return UsageResult(event_id, "rejected", error)
