"""The gateway's routes: OpenAI's and Anthropic's APIs at /gateway/<provider>,
so their official SDKs work with base_url pointed here and a tally customer
key as their API key (Authorization: Bearer or x-api-key). Each route hands
the call to the application's gateway use case and renders its answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from application.gateway import Gateway
from application.gateway_ports import ProviderCall, Refusal, UsageRecording
from application.ports import Moment
from infrastructure.upstream_http import HttpUpstreams, UpstreamConfig
from interfaces.bootstrap import Services
from interfaces.gateway.errors import provider_error
from interfaces.observability.counting import count_usage
from interfaces.worker_threads import run_blocking

router = APIRouter(tags=["gateway"], include_in_schema=False)  # the providers document their APIs
FEATURE_HEADER = "x-tally-feature"
MAX_FEATURE_LENGTH = 200


def gateway_of(services: Services, state: object) -> Gateway:
    """The application state's gateway, made on first use in the event loop."""
    found: Gateway | None = getattr(state, "gateway", None)
    if found is None:
        settings = services.settings
        upstreams = HttpUpstreams(
            {
                "openai": UpstreamConfig(settings.upstream_openai_url, settings.upstream_openai_key),
                "anthropic": UpstreamConfig(settings.upstream_anthropic_url, settings.upstream_anthropic_key),
            },
            settings.upstream_timeout_seconds,
        )
        ledger = services.app.gateway_ledger()
        found = Gateway(replace(ledger, usage=CountedUsage(ledger.usage)), upstreams, run_blocking)
        state.gateway = found  # type: ignore[attr-defined]
        state.gateway_upstreams = upstreams  # type: ignore[attr-defined]
    return found


class CountedUsage:
    """The gateway's usage recording, counted in tally_usage_events_total as
    a batch of POST /v1/events is: an operator's dashboard of usage taken in
    sees what the gateway records too."""

    def __init__(self, usage: UsageRecording) -> None:
        self.usage = usage

    def record_usage(self, raws: Sequence[object], arrived: Moment | None = None) -> list[Any]:
        return list(count_usage(self.usage.record_usage(raws, arrived)))


async def close_gateway(state: object) -> None:
    """Lets calls in flight settle, then closes the upstream connections."""
    found: Gateway | None = getattr(state, "gateway", None)
    if found is not None:
        await found.settled()
        await state.gateway_upstreams.aclose()  # type: ignore[attr-defined]


def _key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    return bearer.strip() or None if scheme.lower() == "bearer" else None


async def _forward(request: Request, provider: str, path: str) -> Response:
    feature = request.headers.get(FEATURE_HEADER)
    if feature is not None and not (0 < len(feature) <= MAX_FEATURE_LENGTH and feature.isprintable()):
        detail = f"{FEATURE_HEADER} must be 1-{MAX_FEATURE_LENGTH} printable characters"
        return provider_error(provider, Refusal(400, "validation_error", detail))
    body = await request.body()
    call = ProviderCall(provider, path, body, dict(request.headers), _key(request), feature)
    answer = await gateway_of(request.app.state.services, request.app.state).call(call)
    if answer.refusal is not None:
        return provider_error(provider, answer.refusal)
    if answer.stream is not None:
        return StreamingResponse(answer.stream, status_code=answer.status, headers=answer.headers)
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


@router.post("/gateway/openai/v1/chat/completions")
async def openai_chat(request: Request) -> Response:
    return await _forward(request, "openai", "chat/completions")


@router.post("/gateway/openai/v1/responses")
async def openai_responses(request: Request) -> Response:
    return await _forward(request, "openai", "responses")


@router.post("/gateway/openai/v1/embeddings")
async def openai_embeddings(request: Request) -> Response:
    return await _forward(request, "openai", "embeddings")


@router.post("/gateway/anthropic/v1/messages")
async def anthropic_messages(request: Request) -> Response:
    return await _forward(request, "anthropic", "v1/messages")
