"""The report: one row per figure, printed as a table and written as JSON
to bench/results/latest.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
TARGETS = {  # the performance issue's targets: printed beside each figure, never asserted
    ("postgresql", "app layer: record+project (projector process)"): ("events/s", 25_000.0),
    ("postgresql", "app layer: record+project (projector thread)"): ("events/s", 25_000.0),
    ("postgresql", "HTTP: POST+project"): ("events/s", 15_000.0),
    ("postgresql", "re-rating"): ("events/s", 20_000.0),
    ("sqlite", "lag p99"): ("ms", 50.0),
    ("postgresql", "lag p99"): ("ms", 50.0),
    ("postgresql", "authorization p99 at 500/s"): ("ms", 10.0),
    ("postgresql", "balanceChanged lag p99"): ("ms", 250.0),
    ("sqlite", "gateway: added at p99"): ("ms", 10.0),
    ("postgresql", "gateway: added at p99"): ("ms", 10.0),
}


@dataclass
class Row:
    store: str
    measurement: str
    value: float | None
    unit: str
    baseline: float | None = None
    note: str = ""
    error: str | None = None

    @property
    def target(self) -> float | None:
        found = TARGETS.get((self.store, self.measurement))
        return found[1] if found else None

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.value < self.target if self.unit == "ms" else self.value >= self.target

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "target": self.target, "met": self.met}


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ms", "us/request"):
        return f"{value:,.1f} {unit}"
    if unit == "events":
        return f"{value:,.0f} events"
    return f"{value:,.0f} ev/s"


def _target(row: Row) -> str:
    if row.target is None:
        return ""
    sign = "<" if row.unit == "ms" else "≥"
    verdict = "" if row.met is None else (" met" if row.met else " MISSED")
    return f"{sign} {_number(row.target, row.unit)}{verdict}"


def table(rows: list[Row]) -> str:
    header = ("store", "measurement", "result", "baseline (INSERT)", "of baseline", "target", "note")
    lines = [header]
    for row in rows:
        share = f"{row.value / row.baseline:.1%}" if row.value and row.baseline else ""
        result = f"FAILED: {row.error}" if row.error else _number(row.value, row.unit)
        lines.append(
            (
                row.store,
                row.measurement,
                result[:90],
                _number(row.baseline, "events/s") if row.baseline else "",
                share,
                _target(row),
                row.note,
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)


def write_json(document: dict[str, Any], name: str = "latest.json") -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
