"""Settling a gateway call: the usage the provider reported recorded as a
usage event in its own format, naming (and so capturing) the call's hold;
or, when it reported none or its report cannot be recorded, the hold voided
and the call recorded flagged, at zero, with why. Recording is retried with
the same event: the same id again is a duplicate, never a second charge."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from application.gateway_ports import Admitted, GatewayLedger, ProviderCall, RunBlocking
from application.ports import Moment
from domain.call_estimate import usage_event_id

logger = logging.getLogger(__name__)
RECORD_ATTEMPTS = 5


class Settlement:
    def __init__(self, ledger: GatewayLedger, run_blocking: RunBlocking, counters: Counter[str]) -> None:
        self.ledger = ledger
        self.run_blocking = run_blocking
        self.counters = counters

    async def settle(
        self,
        call: ProviderCall,
        admitted: Admitted,
        response_id: object,
        usage: Mapping[str, Any] | None,
        response_model: object,
        streamed: bool,
        note: str | None = None,
    ) -> None:
        """Records the usage the provider reported, capturing the hold; with
        none reported, voids the hold and records the call flagged, at zero."""
        event_id = usage_event_id(
            call.provider, response_id if isinstance(response_id, str) else None, admitted.hold_id
        )
        gateway: dict[str, Any] = {"path": call.path, "streamed": streamed, "hold": admitted.hold_id}
        if isinstance(response_model, str):
            gateway["response_model"] = response_model[:200]
        if note:
            gateway["note"] = note
        event: dict[str, Any] = {
            "id": event_id,
            "customer": admitted.customer,
            "timestamp": self.ledger.clock().isoformat(),
            "provider": call.provider,
            "model": admitted.model,
            "feature": call.feature,
        }
        if usage is not None:
            result = await self._record(
                {
                    **event,
                    "usage_format": call.provider,
                    "usage": dict(usage),
                    "authorization_id": admitted.hold_id,
                    "metadata": {"gateway": gateway},
                },
                admitted.arrived,
            )
            if result is not None and result.status in ("accepted", "duplicate"):
                self.counters["charged"] += 1
                return  # captured (a duplicate: this call's own event, recorded before)
            gateway["unreported"] = f"the provider's usage was not recorded: {_why(result)}"
            gateway["usage_as_reported"] = json.dumps(usage, default=str)[:2000]
        else:
            gateway["unreported"] = "the provider reported no usage"
        self.counters["flagged"] += 1
        await self.void(admitted)
        flagged = {**event, "id": usage_event_id(call.provider, None, admitted.hold_id), "usage": {"input_tokens": 0}}
        await self._record({**flagged, "metadata": {"gateway": gateway}}, admitted.arrived)

    async def _record(self, event: dict[str, Any], arrived: Moment) -> Any:
        """Records the event, rated with the reference data as the call's hold
        read them (a head read since `arrived`, shared: no round trip of its
        own); older than REFERENCE_MAX_AGE_SECONDS, metering reads them again
        (a long call)."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                results = await self.run_blocking(self.ledger.usage.record_usage, [event], arrived)
                return results[0]
            except Exception:  # the same id again is a duplicate, never a second charge
                logger.exception("recording the usage of gateway call %s (attempt %d)", event["id"], attempt + 1)
                await asyncio.sleep(0.1 * (attempt + 1))
        logger.error("the usage of gateway call %s is not recorded: %s", event["id"], json.dumps(event, default=str))
        return None

    async def void(self, admitted: Admitted) -> None:
        try:
            await self.run_blocking(self.ledger.holds.void_authorization, admitted.hold_id)
        except Exception:  # it expires on its own
            logger.exception("voiding the gateway's hold %s", admitted.hold_id)


def _why(result: Any) -> str:
    if result is None:
        return "the store did not answer"
    error = result.error or {}
    return f"{result.status} {error.get('code', '')} {error.get('detail', '')}".strip()
