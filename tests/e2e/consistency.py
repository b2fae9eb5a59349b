"""Read-your-writes for tests through a real server: `consistent=true` waits
up to 2 s and answers 429 when the read model is still behind, which a busy
machine can make happen. A test that needs its writes in the read model asks
again until they are, and fails plainly if they never arrive."""

from __future__ import annotations

import time
from typing import Any

import httpx

DEADLINE_SECONDS = 60.0


def consistent_balance(api: httpx.Client, customer: str) -> dict[str, Any]:
    """The customer's balance once every event accepted before this call is in it."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answer = api.get(f"/v1/customers/{customer}/balance", params={"consistent": "true"})
        if answer.status_code != 429 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body
