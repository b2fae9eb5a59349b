"""Counting what the edges answer, in the metrics of infrastructure/metrics.py."""

from __future__ import annotations

from collections.abc import Sequence

from application.results import UsageResult
from infrastructure.metrics import authorization_decisions, count_usage_results

UNPRICED = "unpriced"


def count_usage(results: Sequence[UsageResult]) -> Sequence[UsageResult]:
    """Count one batch's answers (each by status, and the unpriced ones); returns them."""
    count_usage_results([result.status for result in results], sum(UNPRICED in result.warnings for result in results))
    return results


def count_decision(refusal_code: str | None) -> None:
    """One authorization decided: approved, or refused with this code."""
    authorization_decisions.labels(refusal_code or "approved").inc()
