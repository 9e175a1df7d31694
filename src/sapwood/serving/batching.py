"""Dynamic micro-batching: concurrent requests become one model call, and each gets its rows.

A request is a dict of input arrays that share their first dimension (its rows). The batcher
queues requests; once the first one arrives it waits at most ``max_wait_s`` for more (counted
from that request's arrival), up to ``max_batch_size`` rows, and only while fewer requests
wait than were in flight together last round (so a lone caller never waits). Then it stacks
the inputs along axis 0, runs the model once in a worker thread (so the event loop keeps
accepting requests while it runs) and slices every output back by row offsets. If the call
raises for a merged batch, its requests run one by one so only a bad one fails. Requests must
be validated before they are submitted: the batcher only groups requests whose inputs agree
past axis 0; others wait for a batch of their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RunFn = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]
"""The model call: input arrays by name in, output arrays out (in a fixed order)."""

BatchObserver = Callable[[int, int, float], None]
"""Told (rows, requests, seconds) after every model call."""

log = logging.getLogger("sapwood.serving")

Signature = tuple[tuple[str, tuple[int, ...], str], ...]


@dataclass(eq=False)
class _Pending:
    inputs: Mapping[str, np.ndarray]
    rows: int
    signature: Signature
    arrived: float
    future: asyncio.Future[list[np.ndarray]] = field(repr=False)


def _signature(inputs: Mapping[str, np.ndarray]) -> Signature:
    return tuple((k, v.shape[1:], v.dtype.str) for k, v in inputs.items())


def rows_of(inputs: Mapping[str, np.ndarray]) -> int | None:
    """The request's row count (the first dimension its inputs share), or None if none is."""
    counts = {v.shape[0] if v.ndim else -1 for v in inputs.values()}
    if len(counts) != 1 or -1 in counts:
        return None
    return counts.pop()


class MicroBatcher:
    """Merges concurrent :meth:`submit` calls into few ``run`` calls; one call at a time.

    Create it inside the event loop that will use it; :meth:`close` stops the worker.
    """

    def __init__(
        self,
        run: RunFn,
        *,
        max_batch_size: int = 64,
        max_wait_s: float = 0.002,
        on_batch: BatchObserver | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")
        self._run = run
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._pending: deque[_Pending] = deque()
        self._pending_rows = 0
        # Requests submitted and not yet answered, and the most seen at once since the last
        # batch was taken: a batch waits for about as many requests as came together last
        # time, so a lone caller never waits and a crowd fills its batches.
        self._in_flight = 0
        self._peak = 0
        self._target = 1
        self._wakeup: asyncio.Future[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sapwood-batch")
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """This request's outputs (its own rows only); raises what the model raised for it."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        loop = asyncio.get_running_loop()
        if self._worker is None:
            self._worker = loop.create_task(self._work(), name="sapwood-batcher")
        rows = rows_of(inputs)
        item = _Pending(
            inputs=inputs,
            # Inputs without a shared first dimension cannot be stacked: they fill a batch
            # of their own.
            rows=rows if rows is not None else self.max_batch_size,
            signature=_signature(inputs) if rows is not None else (),
            arrived=loop.time(),
            future=loop.create_future(),
        )
        self._pending.append(item)
        self._pending_rows += item.rows
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)
        wakeup = self._wakeup
        if (
            wakeup is not None
            and not wakeup.done()
            and (
                len(self._pending) == 1
                or len(self._pending) >= self._target
                or self._pending_rows >= self.max_batch_size
            )
        ):
            wakeup.set_result(None)
        try:
            return await item.future
        finally:
            self._in_flight -= 1

    async def close(self) -> None:
        """Stops the worker; requests still queued fail. Idempotent."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        for item in self._pending:
            if not item.future.done():
                item.future.set_exception(RuntimeError("the model server is stopping"))
        self._pending.clear()
        self._pending_rows = 0
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _sleep_until(self, deadline: float | None) -> None:
        """Returns at ``deadline`` (None: no deadline) or sooner when submit wakes us."""
        loop = asyncio.get_running_loop()
        self._wakeup = wakeup = loop.create_future()
        handle = None
        if deadline is not None:
            handle = loop.call_at(deadline, _resolve, wakeup)
        try:
            await wakeup
        finally:
            self._wakeup = None
            if handle is not None:
                handle.cancel()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                await self._sleep_until(None)
            deadline = self._pending[0].arrived + self.max_wait_s
            self._target = max(self._peak, 1)
            while (
                self._pending_rows < self.max_batch_size
                and len(self._pending) < self._target
                and loop.time() < deadline
            ):
                await self._sleep_until(deadline)
            batch = self._take()
            self._peak = self._in_flight
            results: list[list[np.ndarray] | BaseException]
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, batch)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(RuntimeError("the model server is stopping"))
                raise
            except Exception as e:  # a bug here must not strand the callers or stop the loop
                log.exception("a batch of %d requests failed", len(batch))
                results = [e] * len(batch)
            for item, result in zip(batch, results, strict=True):
                if item.future.done():  # the caller went away
                    continue
                if isinstance(result, BaseException):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)

    def _take(self) -> list[_Pending]:
        """The oldest request and the queued ones that stack with it, up to the size limit."""
        first = self._pending.popleft()
        batch, rows, kept = [first], first.rows, deque[_Pending]()
        while self._pending and rows < self.max_batch_size:
            item = self._pending.popleft()
            if (
                item.signature
                and item.signature == first.signature
                and rows + item.rows <= self.max_batch_size
            ):
                batch.append(item)
                rows += item.rows
            else:
                kept.append(item)
        kept.extend(self._pending)
        self._pending = kept
        self._pending_rows -= rows
        return batch

    def _call(self, inputs: Mapping[str, np.ndarray], rows: int, requests: int) -> list[Any]:
        start = time.perf_counter()
        try:
            return self._run(inputs)
        finally:
            if self._on_batch is not None:
                self._on_batch(rows, requests, time.perf_counter() - start)

    def _run_alone(self, item: _Pending) -> list[np.ndarray] | BaseException:
        try:
            return self._call(item.inputs, item.rows, 1)
        except Exception as e:
            return e

    def _run_batch(self, batch: list[_Pending]) -> list[list[np.ndarray] | BaseException]:
        """Runs in the worker thread; never raises: each request gets outputs or an error."""
        if len(batch) == 1:
            return [self._run_alone(batch[0])]
        total = sum(item.rows for item in batch)
        merged = {
            name: np.concatenate([item.inputs[name] for item in batch]) for name in batch[0].inputs
        }
        try:
            outputs = self._call(merged, total, len(batch))
        except Exception:
            return [self._run_alone(item) for item in batch]
        if any(o.ndim == 0 or o.shape[0] != total for o in outputs):
            # An output without a row per input row cannot be split: answer each alone.
            return [self._run_alone(item) for item in batch]
        results: list[list[np.ndarray] | BaseException] = []
        offset = 0
        for item in batch:
            end = offset + item.rows
            results.append([o[offset:end] for o in outputs])
            offset = end
        return results


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
