"""The providers' HTTP APIs, for the gateway: one pooled httpx.AsyncClient
per provider, the operator's key added, the client's key never forwarded.

Only the request headers a provider's API reads for the call's meaning are
forwarded (its version and beta flags); of the answer's headers only those
an SDK reads (content type, request id, retry hints) come back, so neither
side learns the other's keys or the operator's organisation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from application.gateway_ports import UpstreamAnswer, UpstreamBroken, UpstreamTimeout

FORWARDED_REQUEST_HEADERS = ("anthropic-version", "anthropic-beta", "openai-beta", "accept")
ANSWERED_HEADERS = (
    "content-type",
    "x-request-id",
    "request-id",
    "openai-processing-ms",
    "openai-version",
    "retry-after",
    "retry-after-ms",
    "x-should-retry",
)
DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
CONNECT_SECONDS = 10.0
MAX_CONNECTIONS = 200


@dataclass(frozen=True)
class UpstreamConfig:
    url: str
    key: str | None


class HttpUpstreams:
    """The Upstream port over HTTP. Clients are made on first use, inside the
    server's event loop, and closed with aclose()."""

    def __init__(self, upstreams: Mapping[str, UpstreamConfig], timeout_seconds: float) -> None:
        self.upstreams = dict(upstreams)
        self.timeout = httpx.Timeout(timeout_seconds, connect=min(CONNECT_SECONDS, timeout_seconds))
        self._clients: dict[str, httpx.AsyncClient] = {}

    def _client(self, provider: str) -> httpx.AsyncClient:
        client = self._clients.get(provider)
        if client is None:
            limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS // 4)
            url = self.upstreams[provider].url.rstrip("/") + "/"
            client = httpx.AsyncClient(base_url=url, timeout=self.timeout, limits=limits)
            self._clients[provider] = client
        return client

    def _headers(self, provider: str, client_headers: Mapping[str, str]) -> dict[str, str]:
        headers = {name: client_headers[name] for name in FORWARDED_REQUEST_HEADERS if name in client_headers}
        headers["content-type"] = "application/json"
        key = self.upstreams[provider].key
        if provider == "anthropic":
            headers.setdefault("anthropic-version", DEFAULT_ANTHROPIC_VERSION)
            if key:
                headers["x-api-key"] = key
        elif key:
            headers["authorization"] = f"Bearer {key}"
        return headers

    async def open(self, provider: str, path: str, body: bytes, headers: Mapping[str, str]) -> UpstreamAnswer:
        client = self._client(provider)
        request = client.build_request("POST", path, content=body, headers=self._headers(provider, headers))
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise UpstreamTimeout(str(error)) from error
        except httpx.HTTPError as error:
            raise UpstreamBroken(str(error)) from error
        answered = {name: response.headers[name] for name in ANSWERED_HEADERS if name in response.headers}
        return UpstreamAnswer(response.status_code, answered, _chunks(response), response.aclose)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives, decoded; httpx's failures as the port's."""
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.TimeoutException as error:
        raise UpstreamTimeout(str(error)) from error
    except httpx.HTTPError as error:
        raise UpstreamBroken(str(error)) from error
