"""What the gateway's use case works with: the call as a client made it, the
upstream provider it forwards to (an adapter in infrastructure/), the
application's public methods it spends through, and what it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from application.ports import Moment

PROVIDERS = ("openai", "anthropic")


@dataclass(frozen=True)
class ProviderCall:
    """One model call as the client sent it. `path` is the provider's path
    below its base URL ("chat/completions", "responses", "embeddings" for
    OpenAI; "v1/messages" for Anthropic)."""

    provider: str
    path: str
    body: bytes
    headers: Mapping[str, str]  # the client's headers (lower-case names); the adapter picks what it forwards
    key: str | None  # the tally customer key the client sent
    feature: str | None  # x-tally-feature


@dataclass(frozen=True)
class Admitted:
    """A call whose hold was approved: whose it is, the hold, what it asked."""

    customer: str
    hold_id: str
    model: str
    request: dict[str, Any]
    # When the call arrived (time.monotonic()): its hold was decided on the log
    # as read after this moment, and its usage is rated on the same read.
    arrived: Moment


@dataclass(frozen=True)
class Refusal:
    """The gateway answers instead of the provider (in its error shape).
    `code` is tally's machine-readable code."""

    status: int
    code: str
    message: str


@dataclass
class GatewayAnswer:
    """What the client gets: a refusal, a whole body, or a stream of bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    refusal: Refusal | None = None


@dataclass
class UpstreamAnswer:
    status: int
    headers: dict[str, str]  # the provider's headers a client may see
    chunks: AsyncIterator[bytes]  # raises UpstreamTimeout or UpstreamBroken
    close: Callable[[], Awaitable[None]]


class UpstreamTimeout(Exception):
    """The provider did not answer (or went silent mid-answer) in time."""


class UpstreamBroken(Exception):
    """The provider could not be reached, or its connection broke."""


class Upstream(Protocol):
    async def open(self, provider: str, path: str, body: bytes, headers: Mapping[str, str]) -> UpstreamAnswer:
        """Sends the call with the operator's key; the answer's body is read
        from `chunks`. Raises UpstreamTimeout or UpstreamBroken."""
        ...


class KeyLookup(Protocol):
    def customer_for_key(self, key: str, arrived: Moment | None = None) -> str | None: ...


class HoldPlacing(Protocol):
    def authorize(
        self,
        authorization_id: str,
        customer_id: str,
        amount: str | None,
        estimate: Mapping[str, Any] | None,
        expires_in_seconds: int | None,
        arrived: Moment | None = None,
    ) -> tuple[Any, bool]: ...

    def void_authorization(self, authorization_id: str) -> Any: ...


class UsageRecording(Protocol):
    def record_usage(self, raws: Sequence[object], arrived: Moment | None = None) -> list[Any]: ...


@dataclass(frozen=True)
class GatewayLedger:
    """What the gateway spends through: the customers' keys, authorizations
    (a call's hold), metering (its usage, capturing the hold), and the clock."""

    keys: KeyLookup
    holds: HoldPlacing
    usage: UsageRecording
    clock: Callable[[], datetime]


RunBlocking = Callable[..., Awaitable[Any]]  # runs a blocking function off the event loop
