"""HTTP to tally with retries. Every request this client sends is safe to
send again: usage events and authorizations carry caller-chosen ids that the
server deduplicates, and reads change nothing. So a dropped connection, a
timeout, a 429 or a 5xx is retried with exponential backoff, the same body
each time, up to a limit."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from tally_client.errors import TallyError

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS_LIMIT = 20


class Transport:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
            raise ValueError(f"max_attempts must be 1-{MAX_ATTEMPTS_LIMIT}")
        self.http = http_client or httpx.Client(base_url=base_url, timeout=timeout_seconds)
        self.headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "tally-client-python/0.1.0"}
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.sleep = sleep
        self.retries = 0  # attempts beyond the first, over this transport's life

    def request(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = ()) -> httpx.Response:
        """The answer to the first attempt that reached a decision: a 2xx, or a
        4xx other than 429 (raised as TallyError unless its status is in `ok`)."""
        failure: Exception | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                self.retries += 1
                self.sleep(self._backoff(attempt))
            try:
                response = self.http.request(method, path, json=body, headers=self.headers)
            except httpx.TransportError as error:  # refused, reset, dropped, timed out: send the same again
                failure = error
                continue
            if response.status_code in RETRIED_STATUSES or response.status_code >= 500:
                failure = _error(response)
                continue
            if response.status_code >= 400 and response.status_code not in ok:
                raise _error(response)
            return response
        raise TallyError(0, "unavailable", f"{method} {path} failed {self.max_attempts} times: {failure}") from failure

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # jitter: clients that failed together retry apart

    def close(self) -> None:
        self.http.close()


def _error(response: httpx.Response) -> TallyError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code", "error"))
    return TallyError(response.status_code, code, str(body.get("detail", response.text[:200])), body)
