"""Ledger export: one line per posting, in posting order."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import TextIO

from domain.money import format_amount
from projections.queries import LedgerQueries

FIELDS = (
    "position",
    "entry",
    "kind",
    "posted_at",
    "cause",
    "customer",
    "debit_account",
    "credit_account",
    "amount",
    "currency",
)
PAGE = 500


def export_ledger(queries: LedgerQueries, fmt: str, start: datetime | None, end: datetime | None, out: TextIO) -> int:
    writer = csv.DictWriter(out, FIELDS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    count, after = 0, 0
    while True:
        entries = queries.entries(start=start, end=end, after=after, limit=PAGE)
        for entry in entries:
            for posting in entry.postings:
                row = {
                    "position": entry.position,
                    "entry": f"{entry.position}:{entry.kind}",
                    "kind": entry.kind,
                    "posted_at": entry.posted_at,
                    "cause": entry.cause_ref,
                    "customer": entry.customer or "",
                    "debit_account": posting.debit,
                    "credit_account": posting.credit,
                    "amount": format_amount(posting.amount),
                    "currency": posting.currency,
                }
                if writer is not None:
                    writer.writerow(row)
                else:
                    out.write(json.dumps(row) + "\n")
                count += 1
        if len(entries) < PAGE:
            return count
        after = entries[-1].position
