"""TallyClient: usage (buffered or sent at once), authorizations, balances.
Money is Decimal here and a decimal string on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from tally_client.batching import MAX_BATCH_EVENTS, UsageBuffer
from tally_client.errors import AuthorizationDenied, TallyError
from tally_client.transport import Transport
from tally_client.usage_formats import tally_units


@dataclass(frozen=True)
class Authorization:
    id: str
    customer: str
    status: str
    held: Decimal
    available: Decimal | None
    body: dict[str, Any]


@dataclass(frozen=True)
class Balance:
    customer: str
    balance: Decimal
    held: Decimal
    available: Decimal
    currency: str
    as_of: str


class TallyClient:
    """One client per process; thread-safe. Use it as a context manager, or
    call close(), so buffered usage is sent before the process ends."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_batch: int = 500,
        flush_interval_seconds: float = 1.0,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        timeout_seconds: float = 30.0,
        server_maps_usage: bool = False,
        transport: Transport | None = None,
    ) -> None:
        self.transport = transport or Transport(
            base_url,
            api_key,
            timeout_seconds=timeout_seconds,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
        )
        self.server_maps_usage = server_maps_usage
        self.buffer = UsageBuffer(self.send_usage, max_batch=max_batch, flush_interval_seconds=flush_interval_seconds)

    # usage
    def record(
        self,
        event_id: str,
        customer: str,
        provider: str,
        model: str,
        usage: Mapping[str, Any],
        *,
        usage_format: str | None = None,
        timestamp: datetime | None = None,
        feature: str | None = None,
        authorization_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Buffer one usage event; the background thread sends it. `usage` is
        tally's units, or the provider's own usage object with `usage_format`."""
        self.buffer.add(
            self.usage_event(
                event_id, customer, provider, model, usage, usage_format, timestamp, feature, authorization_id, metadata
            )
        )

    def usage_event(
        self,
        event_id: str,
        customer: str,
        provider: str,
        model: str,
        usage: Mapping[str, Any],
        usage_format: str | None = None,
        timestamp: datetime | None = None,
        feature: str | None = None,
        authorization_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        moment = timestamp or datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        event: dict[str, Any] = {
            "id": event_id,
            "customer": customer,
            "timestamp": moment.isoformat(),
            "provider": provider,
            "model": model,
        }
        if usage_format is not None and self.server_maps_usage:
            event["usage"], event["usage_format"] = dict(usage), usage_format
        elif usage_format is not None:
            event["usage"] = tally_units(usage_format, usage)
        else:
            event["usage"] = dict(usage)
        optional = {"feature": feature, "authorization_id": authorization_id, "metadata": metadata}
        event.update({key: value for key, value in optional.items() if value is not None})
        json.dumps(event)  # what cannot be sent fails here, at the caller, not later in the buffer
        return event

    def send_usage(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send events now, in one request (at most 1000), retried on failure;
        the per-event results in order (accepted, duplicate or rejected)."""
        batch = list(events)
        if len(batch) > MAX_BATCH_EVENTS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_EVENTS} events")
        results: list[dict[str, Any]] = self.transport.request("POST", "/v1/events", {"events": batch}).json()[
            "results"
        ]
        if len(results) != len(batch):
            raise TallyError(0, "bad_answer", f"{len(batch)} events sent, {len(results)} results answered")
        return results

    def flush(self) -> None:
        self.buffer.flush()

    # authorizations
    def authorize(
        self,
        authorization_id: str,
        customer: str,
        amount: Decimal | None = None,
        *,
        estimate: Mapping[str, Any] | None = None,
        expires_in_seconds: int | None = None,
    ) -> Authorization:
        """Hold `amount` (or the server's price of `estimate`); AuthorizationDenied on 402."""
        if (amount is None) == (estimate is None):
            raise ValueError("give an amount or an estimate")
        body: dict[str, Any] = {"id": authorization_id, "customer": customer}
        if amount is not None:
            body["amount"] = _money_text(amount)
        if estimate is not None:
            body["estimate"] = dict(estimate)
        if expires_in_seconds is not None:
            body["expires_in_seconds"] = expires_in_seconds
        response = self.transport.request("POST", "/v1/authorizations", body, ok=(402,))
        answer = response.json()
        if response.status_code == 402:
            raise AuthorizationDenied(402, str(answer.get("code")), str(answer.get("detail")), answer)
        return _authorization(answer)

    def void(self, authorization_id: str) -> Authorization:
        return _authorization(self.transport.request("POST", f"/v1/authorizations/{authorization_id}/void").json())

    def authorization(self, authorization_id: str) -> Authorization:
        return _authorization(self.transport.request("GET", f"/v1/authorizations/{authorization_id}").json())

    # reads
    def balance(self, customer: str, *, consistent: bool = False) -> Balance:
        path = f"/v1/customers/{customer}/balance" + ("?consistent=true" if consistent else "")
        found = self.transport.request("GET", path).json()
        return Balance(
            customer=found["customer"],
            balance=Decimal(found["balance"]),
            held=Decimal(found["held"]),
            available=Decimal(found["available"]),
            currency=found["currency"],
            as_of=found["as_of"],
        )

    def usage_event_of(self, customer: str, event_id: str) -> dict[str, Any] | None:
        response = self.transport.request("GET", f"/v1/events/{customer}/{event_id}", ok=(404,))
        return None if response.status_code == 404 else dict(response.json())

    # lifecycle
    def close(self) -> None:
        """Send what is buffered, stop the thread, close the connections."""
        try:
            self.buffer.close()
        finally:
            self.transport.close()

    def __enter__(self) -> TallyClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _money_text(amount: Decimal) -> str:
    if not isinstance(amount, Decimal):
        raise TypeError("money is a Decimal, never a float")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"an amount must be a finite, non-negative Decimal, not {amount}")
    return format(amount, "f")


def _authorization(body: dict[str, Any]) -> Authorization:
    available = body.get("available")
    return Authorization(
        id=body["id"],
        customer=body.get("customer", ""),
        status=body["status"],
        held=Decimal(body.get("held") or "0"),
        available=Decimal(available) if available is not None else None,
        body=body,
    )
