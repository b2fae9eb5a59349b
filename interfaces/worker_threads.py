"""Blocking work (the store's and the read model's round trips) run off the
event loop, on a pool of worker threads of this process's own.

Starlette's `run_in_threadpool` goes through anyio: a cancel scope, a
capacity limiter, the async library sniffed on every call. On the paths a
request waits on (an authorization, a batch of usage, a gateway call's hold
and record) that machinery cost more of the event loop's time than the
hop itself. `asyncio`'s own executor hand-off is one future. The context is
copied into the thread, as `asyncio.to_thread` and anyio do, so a trace's
span (interfaces/observability/tracing.py) follows the work.

A caller that is cancelled while its function runs stops waiting; the
function runs to its end in its thread (as with anyio, whose default does
not abandon it either, only delays the cancellation until it ends)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

# As many as anyio lends by default: more than the store's and read model's
# pools hold connections, so a thread never waits for a thread, only for a
# connection.
WORKER_THREADS = 40

P = ParamSpec("P")
T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="tally-worker")


async def run_blocking(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker thread, in a copy of the caller's context."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    call = functools.partial(context.run, function, *args, **kwargs)
    return await loop.run_in_executor(_executor, call)
