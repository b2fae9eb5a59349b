"""meter(): wrap an `openai.OpenAI` or `anthropic.Anthropic` client object, or
their async twins `openai.AsyncOpenAI` and `anthropic.AsyncAnthropic`, so each
chat.completions.create / messages.create call, streamed or not, records its
usage in tally, in-process (no gateway in between).

The usage event's id derives from the provider's response id (`openai-<id>`,
`anthropic-<id>`), so recording a call twice records it once. Its model is
the one the call asked for (the name the price book prices). The event joins
the client's buffer: the call itself never waits on tally, and a tally that
cannot be reached never fails the call (the buffer keeps the event, and the
failure is logged).

An async client is metered through the same buffer, on purpose: recording is
`UsageBuffer.add`, a list append under a lock that is never held across a
request (its background thread sends the batches, with httpx, off the event
loop), so a coroutine that records never waits on tally's network. An async
buffer beside it would send the same batches with a second transport and a
second lifecycle for the same guarantee. Only `TallyClient.flush()` and
`close()` send from the caller's thread: from async code, call them through
`asyncio.to_thread`."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar, cast

from tally_client.client import TallyClient

logger = logging.getLogger("tally_client")
C = TypeVar("C")
NOT_AN_ID_CHARACTER = re.compile(r"[^A-Za-z0-9._:-]")
MAX_ID_LENGTH = 128


def meter(
    provider_client: C,
    tally: TallyClient,
    customer: str,
    *,
    feature: str | None = None,
    authorization_id: str | None = None,
) -> C:
    """The same client, metered for `customer`. Everything but the wrapped
    create method passes straight through to the original object. An async
    client's create stays a coroutine, and its streams are async iterables."""
    recorder = _Recorder(tally, customer, feature, authorization_id)
    original: Any = provider_client
    module = type(original).__module__.split(".")[0]
    if module == "openai" or (module != "anthropic" and hasattr(original, "chat")):
        found = original.chat.completions
        completions = (_AsyncOpenAICompletions if _is_async(found.create) else _OpenAICompletions)(found, recorder)
        return cast(C, _Passthrough(original, chat=_Passthrough(original.chat, completions=completions)))
    if module == "anthropic" or hasattr(original, "messages"):
        found = original.messages
        messages = (_AsyncAnthropicMessages if _is_async(found.create) else _AnthropicMessages)(found, recorder)
        return cast(C, _Passthrough(original, messages=messages))
    raise TypeError(
        "meter() wraps an openai.OpenAI, openai.AsyncOpenAI, anthropic.Anthropic or anthropic.AsyncAnthropic"
        f" client, not {type(provider_client)!r}"
    )


def _is_async(create: Any) -> bool:
    """The SDKs' async create is a coroutine function under a plain wrapper
    (openai's `required_args`), so look beneath the wrappers."""
    return inspect.iscoroutinefunction(inspect.unwrap(create))


def event_id(provider: str, response_id: str) -> str:
    return NOT_AN_ID_CHARACTER.sub("_", f"{provider}-{response_id}")[:MAX_ID_LENGTH]


class _Passthrough:
    """An object whose named attributes are replaced; the rest are the original's."""

    def __init__(self, original: Any, **replaced: Any) -> None:
        self._original = original
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _Recorder:
    def __init__(self, tally: TallyClient, customer: str, feature: str | None, authorization_id: str | None) -> None:
        self.tally, self.customer, self.feature, self.authorization_id = tally, customer, feature, authorization_id

    def __call__(self, provider: str, response_id: str | None, model: str, usage: Any) -> None:
        if not response_id or usage is None:
            logger.warning("a %s call answered without an id or usage: nothing recorded", provider)
            return
        try:
            self.tally.record(
                event_id(provider, response_id),
                self.customer,
                provider,
                model,
                _as_dict(usage),
                usage_format=provider,
                feature=self.feature,
                authorization_id=self.authorization_id,
            )
        except Exception:  # metering must never fail the model call
            logger.exception("recording the usage of %s response %s failed", provider, response_id)


Observer = tuple[Callable[[Any], None], Callable[[], None]]  # (observe an item, finish)


def _openai_stream_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A stream reports usage only when asked: its last chunk then carries it
    (with no choices)."""
    return {**kwargs, "stream_options": {**(kwargs.get("stream_options") or {}), "include_usage": True}}


def _openai_stream_usage(model: str, record: _Recorder) -> Observer:
    seen: dict[str, Any] = {}

    def observe(chunk: Any) -> None:
        seen.setdefault("id", getattr(chunk, "id", None))
        seen["model"] = model or getattr(chunk, "model", "")
        if getattr(chunk, "usage", None) is not None:
            seen["usage"] = chunk.usage

    def finish() -> None:
        record("openai", seen.get("id"), seen.get("model", model), seen.get("usage"))

    return observe, finish


def _anthropic_stream_usage(model: str, record: _Recorder) -> Observer:
    seen: dict[str, Any] = {"usage": {}}

    def observe(event: Any) -> None:
        kind = getattr(event, "type", "")
        if kind == "message_start":
            seen["id"] = event.message.id
            seen["usage"].update(_as_dict(event.message.usage))
        elif kind == "message_delta" and getattr(event, "usage", None) is not None:
            # counts in a delta are cumulative: they replace the start's
            seen["usage"].update({k: v for k, v in _as_dict(event.usage).items() if v is not None})

    def finish() -> None:
        record("anthropic", seen.get("id"), model, seen["usage"] or None)

    return observe, finish


class _Metered(_Passthrough):
    """A create method's owner (completions, messages), its create metered."""

    def __init__(self, original: Any, record: _Recorder) -> None:
        super().__init__(original)
        self._record = record

    def _whole(self, provider: str, model: str, response: Any) -> Any:
        """A response read whole: its usage recorded, the response returned."""
        self._record(provider, getattr(response, "id", None), model or response.model, response.usage)
        return response


class _OpenAICompletions(_Metered):
    def create(self, *args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        if not kwargs.get("stream"):
            return self._whole("openai", model, self._original.create(*args, **kwargs))
        stream = self._original.create(*args, **_openai_stream_kwargs(kwargs))
        return _MeteredStream(stream, *_openai_stream_usage(model, self._record))


class _AsyncOpenAICompletions(_Metered):
    async def create(self, *args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        if not kwargs.get("stream"):
            return self._whole("openai", model, await self._original.create(*args, **kwargs))
        stream = await self._original.create(*args, **_openai_stream_kwargs(kwargs))
        return _AsyncMeteredStream(stream, *_openai_stream_usage(model, self._record))


class _AnthropicMessages(_Metered):
    def create(self, *args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        if not kwargs.get("stream"):
            return self._whole("anthropic", model, self._original.create(*args, **kwargs))
        return _MeteredStream(self._original.create(*args, **kwargs), *_anthropic_stream_usage(model, self._record))


class _AsyncAnthropicMessages(_Metered):
    async def create(self, *args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        if not kwargs.get("stream"):
            return self._whole("anthropic", model, await self._original.create(*args, **kwargs))
        stream = await self._original.create(*args, **kwargs)
        return _AsyncMeteredStream(stream, *_anthropic_stream_usage(model, self._record))


class _MeteredStream(_Passthrough):
    """The provider's stream, item by item; its usage is recorded once, when
    the stream ends (read to its end, closed, or left by `with`)."""

    def __init__(self, original: Any, observe: Callable[[Any], None], finish: Callable[[], None]) -> None:
        super().__init__(original)
        self._observe, self._finish, self._finished = observe, finish, False

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self._original:
                self._observe(item)
                yield item
        finally:
            self._done()

    def __next__(self) -> Any:
        try:
            item = next(self._original)
        except StopIteration:
            self._done()
            raise
        self._observe(item)
        return item

    def __enter__(self) -> _MeteredStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._original.close()
        finally:
            self._done()

    def _done(self) -> None:
        if not self._finished:
            self._finished = True
            self._finish()


class _AsyncMeteredStream(_Passthrough):
    """The provider's async stream, item by item; its usage is recorded once,
    when the stream ends (read to its end, closed, or left by `async with`)."""

    def __init__(self, original: Any, observe: Callable[[Any], None], finish: Callable[[], None]) -> None:
        super().__init__(original)
        self._observe, self._finish, self._finished = observe, finish, False

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            async for item in self._original:
                self._observe(item)
                yield item
        finally:
            self._done()

    async def __anext__(self) -> Any:
        try:
            item = await self._original.__anext__()
        except StopAsyncIteration:
            self._done()
            raise
        self._observe(item)
        return item

    async def __aenter__(self) -> _AsyncMeteredStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self._original.close()
        finally:
            self._done()

    def _done(self) -> None:
        if not self._finished:
            self._finished = True
            self._finish()


def _as_dict(usage: Any) -> dict[str, Any]:
    if isinstance(usage, dict):
        return usage
    dump = getattr(usage, "model_dump", None)
    if callable(dump):
        found: dict[str, Any] = dump()
        return found
    return dict(vars(usage))
