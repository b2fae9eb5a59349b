"""The providers' HTTP APIs, for the gateway: one pooled aiohttp session
per provider, the operator's key added, the client's key never forwarded.

aiohttp rather than httpx here: its HTTP parser is compiled, and a forwarded
call cost the server about 0.6 ms less CPU with it, on the event loop every
gateway call shares (docs/performance.md, section 13).

Only the request headers a provider's API reads for the call's meaning are
forwarded (its version and beta flags); of the answer's headers only those
an SDK reads (content type, request id, retry hints) come back, so neither
side learns the other's keys or the operator's organisation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

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
    """The Upstream port over HTTP. Sessions are made on first use, inside the
    server's event loop, and closed with aclose(). The timeout bounds the
    connection, the wait for the answer to start and each wait between its
    parts (aiohttp's sock_read); an answer that keeps coming is not cut."""

    def __init__(self, upstreams: Mapping[str, UpstreamConfig], timeout_seconds: float) -> None:
        self.upstreams = dict(upstreams)
        # sock_connect: the TCP (and TLS) connection; sock_read: each wait for
        # the answer's next part. Sending the call and waiting for its answer
        # to start (a pooled connection included) are bounded as a whole in
        # open(), as httpx's write and pool timeouts bounded them.
        self.timeout_seconds = timeout_seconds
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=min(CONNECT_SECONDS, timeout_seconds), sock_read=timeout_seconds
        )
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    def _session(self, provider: str) -> aiohttp.ClientSession:
        session = self._sessions.get(provider)
        if session is None:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
            session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
            self._proxies[provider] = env_proxy(self.upstreams[provider].url)
            self._sessions[provider] = session
        return session

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
        url = self.upstreams[provider].url.rstrip("/") + "/" + path
        try:
            # A redirect is the provider's answer, passed back as it is: never
            # followed, since aiohttp would carry the operator's x-api-key to
            # whatever host it names.
            async with asyncio.timeout(self.timeout_seconds):
                session = self._session(provider)
                proxy, proxy_auth = self._proxies[provider]
                response = await session.post(
                    url,
                    data=body,
                    headers=self._headers(provider, headers),
                    allow_redirects=False,
                    proxy=proxy,
                    proxy_auth=proxy_auth,
                )
        except TimeoutError as error:
            raise UpstreamTimeout(str(error) or "no answer in time") from error
        except aiohttp.ClientError as error:
            raise UpstreamBroken(str(error)) from error
        answered = {name: response.headers[name] for name in ANSWERED_HEADERS if name in response.headers}

        async def close() -> None:
            response.release()

        return UpstreamAnswer(response.status, answered, _chunks(response), close)

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


def env_proxy(url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy the environment names for an upstream (HTTPS_PROXY,
    HTTP_PROXY, ALL_PROXY, NO_PROXY), with its credentials: (None, None) when
    it names none or NO_PROXY covers the host. Read once per upstream when
    its session is made, as aiohttp's trust_env would read it for every call,
    in a worker thread each time (with a netrc lookup in another): two thread
    hops per forwarded call for what does not change while the server runs."""
    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None


async def _chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body as it arrives, decoded; aiohttp's failures as the port's."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except TimeoutError as error:
        raise UpstreamTimeout(str(error) or "the answer stopped coming") from error
    except aiohttp.ClientError as error:
        raise UpstreamBroken(str(error)) from error
