"""A provider's streamed answer relayed to the client event by event as it
arrives, while its usage is read on the way.

The relay reads the provider in a task of its own (`pump`) and hands whole
events to the client through a queue, so a client that goes away does not
stop the reading: the provider's answer is read to its end, and its usage
charged, as the provider bills it. Nothing of the answer is kept beyond the
events the client has not taken yet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from application.gateway_ports import UpstreamAnswer, UpstreamBroken, UpstreamTimeout
from domain.provider_streams import SseSplitter, StreamUsage

END = b""  # an empty chunk ends the client's stream (events are never empty)


class StreamRelay:
    def __init__(self, provider: str, answer: UpstreamAnswer, strip_usage_chunk: bool) -> None:
        self.answer = answer
        self.usage = StreamUsage(provider)
        self.strip_usage_chunk = strip_usage_chunk
        self.client_stayed = True
        self.ended = False  # the provider's stream came to its end
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._splitter = SseSplitter()

    async def pump(self) -> None:
        """Reads the provider's answer to its end (or its failure)."""
        try:
            async for chunk in self.answer.chunks:
                for event in self._splitter.feed(chunk):
                    self._pass(event, self.usage.read(event))
            rest = self._splitter.rest()
            if rest:
                self._pass(rest, self.usage.read(rest))
            self.ended = True
        except (UpstreamTimeout, UpstreamBroken):
            pass  # what was reported so far is what the provider bills
        finally:
            await self.answer.close()

    def _pass(self, event: bytes, usage_only: bool) -> None:
        if self.client_stayed and not (usage_only and self.strip_usage_chunk):
            self._queue.put_nowait(event)

    def finish(self) -> None:
        """The client's stream ends (after the usage is settled)."""
        self._queue.put_nowait(END)

    async def client_chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                event = await self._queue.get()
                if event == END:
                    return
                yield event
        finally:
            if not self.ended:
                self.client_stayed = False
                while not self._queue.empty():  # what it will never take
                    self._queue.get_nowait()
