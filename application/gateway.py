"""The gateway's use case: a model call metered in flight.

Per call: identify the customer by its key; hold an estimate of the call
(domain/call_estimate.py) as an authorization, and refuse before the
provider is called when the hold is refused; forward the call; pass the
answer through; record the usage the provider reports as a usage event in
the provider's own format, whose id derives from the provider's response id
and which names the hold (capturing it). A provider error, a timeout or an
answer without usage charges nothing: the hold is voided.

Each call runs in a task of its own, shielded from the client: a client that
goes away does not stop the call from being settled (recorded or voided)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from typing import Any

from application.errors import TallyError, ValidationFailed
from application.event_limits import is_valid_text
from application.gateway_ports import (
    Admitted,
    GatewayAnswer,
    GatewayLedger,
    ProviderCall,
    Refusal,
    RunBlocking,
    Upstream,
    UpstreamBroken,
    UpstreamTimeout,
)
from application.gateway_settlement import Settlement
from application.gateway_stream import StreamRelay
from application.ports import Moment
from application.usage_input import MAX_NAME_LENGTH
from domain.call_estimate import estimated_usage

logger = logging.getLogger(__name__)
# A hold outlives the longest call it covers; one never captured (the server
# stopped mid-call) releases itself then.
HOLD_SECONDS = 3600
# When the estimate cannot be priced (a model the price book lacks, a free
# one), the call still has to pass the customer's standing: this much is held.
SMALLEST_HOLD = "0.000001"
SHUTDOWN_SECONDS = 30.0
# The answer names the call's authorization (the hold); its usage event is
# gw.<provider>.<response id>, or gw.<provider>.<hold> when flagged.
HOLD_HEADER = "x-tally-authorization"


class Gateway:
    def __init__(self, ledger: GatewayLedger, upstream: Upstream, run_blocking: RunBlocking) -> None:
        self.ledger = ledger
        self.upstream = upstream
        self.run_blocking = run_blocking
        # calls answered by this process, by outcome: refused, provider_error,
        # upstream_failed, charged, flagged
        self.counters: Counter[str] = Counter()
        self.settlement = Settlement(ledger, run_blocking, self.counters)
        self._tasks: set[asyncio.Task[Any]] = set()  # calls and streams being settled

    async def call(self, call: ProviderCall) -> GatewayAnswer:
        task = asyncio.create_task(self._call(call))
        self.keep(task)
        return await asyncio.shield(task)

    def keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self, timeout_seconds: float = SHUTDOWN_SECONDS) -> None:
        """Waits for the calls and streams still being settled (at shutdown),
        for at most `timeout_seconds`: a hold left open expires on its own."""
        try:
            async with asyncio.timeout(timeout_seconds):
                while self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
        except TimeoutError:
            logger.warning("%d gateway calls were still in flight at shutdown", len(self._tasks))

    async def _call(self, call: ProviderCall) -> GatewayAnswer:
        admitted = await self._admit(call)
        if isinstance(admitted, Refusal):
            self.counters["refused"] += 1
            return GatewayAnswer(admitted.status, refusal=admitted)
        try:
            return await self._forward(call, admitted)
        except BaseException:
            await self.settlement.void(
                admitted
            )  # a fault of tally's: nothing is charged for a call it could not finish
            raise

    async def _forward(self, call: ProviderCall, admitted: Admitted) -> GatewayAnswer:
        streamed = admitted.request.get("stream") is True
        body = call.body
        client_asked_usage = True
        if streamed and call.path == "chat/completions":
            client_asked_usage, body = _asking_for_usage(admitted.request, body)
        try:
            answer = await self.upstream.open(call.provider, call.path, body, call.headers)
        except (UpstreamTimeout, UpstreamBroken) as error:
            self.counters["upstream_failed"] += 1
            await self.settlement.void(admitted)
            timeout = isinstance(error, UpstreamTimeout)
            message = f"{call.provider} did not answer in time" if timeout else f"{call.provider} could not be reached"
            return GatewayAnswer(504 if timeout else 502, refusal=Refusal(504 if timeout else 502, "upstream", message))
        if not 200 <= answer.status < 300 or not streamed:
            return await self._whole(call, admitted, answer)
        answer.headers[HOLD_HEADER] = admitted.hold_id
        relay = StreamRelay(call.provider, answer, strip_usage_chunk=not client_asked_usage)
        settling = asyncio.create_task(self._settle_stream(call, admitted, relay))
        self.keep(settling)
        return GatewayAnswer(answer.status, answer.headers, stream=relay.client_chunks())

    async def _admit(self, call: ProviderCall) -> Admitted | Refusal:
        arrived = time.monotonic()  # the key and the hold count what was committed before: one read of the head
        if not call.key:
            return Refusal(401, "unauthorized", "send a tally customer key as the API key")
        request, problem = _read_request(call.body)
        hold_id = f"gw.{uuid.uuid4().hex}"
        estimate = None
        if request is not None:
            estimate = {"provider": call.provider, "model": request["model"]}
            estimate["usage"] = estimated_usage(call.path.removeprefix("v1/"), request)
        try:  # the key's customer and the hold in one trip to a worker thread
            customer, decision = await self.run_blocking(self._key_and_hold, call.key, arrived, hold_id, estimate)
        except TallyError as error:  # e.g. too many authorizations at once for this customer
            return Refusal(error.status, error.code, error.detail)
        if customer is None:
            return Refusal(401, "unauthorized", "send a tally customer key as the API key")
        if request is None:  # a known key's unreadable call: refused before any hold
            return problem or Refusal(400, "validation_error", "the request body must be a JSON object naming a model")
        if not decision.approved:
            return Refusal(402, decision.code or "insufficient_funds", decision.detail)
        return Admitted(customer, hold_id, request["model"], request, arrived)

    def _key_and_hold(
        self, key: str, arrived: Moment, hold_id: str, estimate: dict[str, Any] | None
    ) -> tuple[str | None, Any]:
        """The key's customer and, for a readable call, the hold's decision."""
        customer = self.ledger.keys.customer_for_key(key, arrived)
        if customer is None or estimate is None:
            return customer, None
        holds = self.ledger.holds
        try:
            decision, _ = holds.authorize(hold_id, customer, None, estimate, HOLD_SECONDS, arrived)
        except ValidationFailed:  # unpriced or free: the customer's standing still decides
            decision, _ = holds.authorize(hold_id, customer, SMALLEST_HOLD, None, HOLD_SECONDS, arrived)
        return customer, decision

    async def _whole(self, call: ProviderCall, admitted: Admitted, answer: Any) -> GatewayAnswer:
        """An answer read whole: an error (passed through, nothing charged) or
        a call that was not streamed."""
        try:
            body = b"".join([chunk async for chunk in answer.chunks])
        except (UpstreamTimeout, UpstreamBroken):
            self.counters["upstream_failed"] += 1
            await self.settlement.void(admitted)
            return GatewayAnswer(504, refusal=Refusal(504, "upstream", f"{call.provider} did not finish its answer"))
        finally:
            await answer.close()
        answer.headers[HOLD_HEADER] = admitted.hold_id
        if not 200 <= answer.status < 300:
            self.counters["provider_error"] += 1
            await self.settlement.void(admitted)
            return GatewayAnswer(answer.status, answer.headers, body)
        try:
            reported = json.loads(body)
        except ValueError:
            reported = None
        reported = reported if isinstance(reported, dict) else {}
        response_id = reported.get("id") or answer.headers.get("x-request-id") or answer.headers.get("request-id")
        usage = reported.get("usage") if isinstance(reported.get("usage"), dict) else None
        await self.settlement.settle(call, admitted, response_id, usage, reported.get("model"), streamed=False)
        return GatewayAnswer(answer.status, answer.headers, body)

    async def _settle_stream(self, call: ProviderCall, admitted: Admitted, relay: StreamRelay) -> None:
        try:
            await relay.pump()
        finally:
            tracker = relay.usage
            reason = None
            if not relay.client_stayed:
                reason = "the client went away before the answer ended; the answer was read to its end"
            elif not relay.ended:
                reason = "the provider's answer broke off"
            await self.settlement.settle(
                call, admitted, tracker.response_id, tracker.usage, tracker.response_model, True, reason
            )
            relay.finish()


def _asking_for_usage(request: dict[str, Any], body: bytes) -> tuple[bool, bytes]:
    """Whether the client asked for OpenAI's usage chunk, and the body that
    asks for it (the client's own when it did)."""
    options = request.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return True, body
    asked = {**request, "stream_options": {**(options if isinstance(options, dict) else {}), "include_usage": True}}
    return False, json.dumps(asked).encode()


def _read_request(body: bytes) -> tuple[dict[str, Any] | None, Refusal | None]:
    """The call's JSON object naming a model, or why it is not one."""
    try:
        request = json.loads(body)
    except ValueError:
        return None, Refusal(400, "validation_error", "the request body is not valid JSON")
    if not isinstance(request, dict) or not _is_model_name(request.get("model")):
        return None, Refusal(400, "validation_error", "the request body must be a JSON object naming a model")
    return request, None


def _is_model_name(name: object) -> bool:
    """A model name a usage event can carry (checked before the call: after
    it, its usage could not be recorded)."""
    return isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH and name.isprintable() and is_valid_text(name)
