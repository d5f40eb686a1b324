"""Micro-batching: concurrent requests share one model call.

One worker thread owns the model. It takes the first waiting request and everything already
queued behind it. A request that arrives alone is answered at once: waiting could only add to its
latency. When others were queued with it (the server is busy, and more are likely on their way),
it keeps collecting for at most ``max_wait_ms`` or until ``max_batch_size`` requests are in hand.
Each batch is answered with a single ``predict`` call. A thread (rather than an asyncio task)
keeps the batcher independent of whichever event loop a request arrives on, and keeps the model
off the loop.

Requests with different ``max_seq_len`` cannot share a tokenizer call, so a batch is split into
groups by ``max_seq_len``; each group asks for the largest ``top_k`` among its requests and every
request keeps its own prefix, which is exactly its single-request answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Annotated

from PIL import Image
from pydantic import Field, validate_call

from runtime.settings import Positive

log = logging.getLogger(__name__)

Prediction = list[tuple[str, float]]
PredictFn = Callable[..., list[Prediction]]


@dataclasses.dataclass
class _Job:
    text: str | None
    image: Image.Image | None
    top_k: int
    max_seq_len: int
    future: Future[Prediction] = dataclasses.field(default_factory=Future)


class MicroBatcher:
    """Collects concurrent prediction requests into batched ``predict`` calls."""

    @validate_call(config={"arbitrary_types_allowed": True})
    def __init__(
        self,
        predict: PredictFn,
        max_batch_size: Positive,
        max_wait_ms: Annotated[float, Field(ge=0)],
        on_batch: Callable[[int], None] = lambda size: None,
    ) -> None:
        """``max_batch_size`` and ``max_wait_ms`` carry ServeSettings' own bounds, so code that
        builds a batcher itself is held to them too: one with room for no job would leave every
        request waiting."""
        self._predict = predict
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_ms / 1000.0
        self._on_batch = on_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._worker.start()

    async def predict(
        self, text: str | None, image: Image.Image | None, top_k: int, max_seq_len: int
    ) -> Prediction:
        """Queue one request and wait for its share of a batched call."""
        job = _Job(text, image, top_k, max_seq_len)
        self._queue.put(job)
        return await asyncio.wrap_future(job.future)

    def is_alive(self) -> bool:
        return self._worker.is_alive()

    def close(self) -> None:
        """Finish the queued requests, then stop the worker."""
        self._queue.put(None)
        self._worker.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            self._answer(batch)
            if stop:
                return

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        batch = [first]
        deadline = time.monotonic() + self._max_wait_s
        while len(batch) < self._max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                # Only a batch that already has company waits for more (see the module docstring).
                job = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0 and len(batch) > 1
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _answer(self, batch: list[_Job]) -> None:
        # A request whose client went away was cancelled; it must not take a batch slot.
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not batch:
            return
        self._on_batch(len(batch))
        by_length = sorted(batch, key=lambda job: job.max_seq_len)
        for max_seq_len, group_iter in itertools.groupby(
            by_length, key=lambda job: job.max_seq_len
        ):
            group = list(group_iter)
            try:
                results = self._predict(
                    [job.text for job in group],
                    [job.image for job in group],
                    top_k=max(job.top_k for job in group),
                    max_seq_len=max_seq_len,
                )
            except Exception as exc:  # noqa: BLE001 - handed to each waiting request
                log.exception("batched predict failed")
                for job in group:
                    job.future.set_exception(exc)
                continue
            for job, result in zip(group, results, strict=True):
                job.future.set_result(result[: job.top_k])
