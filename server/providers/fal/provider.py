"""`FalProvider`: Seedance 2.0 on fal.ai behind the neutral `Provider` interface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from .._http import DEFAULT_POLICY, RetryPolicy
from ..base import JobSpec, QueueState, Submission, VideoOutput
from .connection import FalConnection
from .queue import FalQueue
from .storage import FalStorage


class FalProvider:
    """Seedance 2.0 on fal.ai: the queue and storage, sharing one connection (client, key, retries).

    Given the process's HTTP client; holds no job state (only storage's cached upload token).
    """

    name = "fal"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        key: str,
        queue_url: str,
        rest_url: str,
        cdn_url: str,
        multipart_threshold: int = 100 * 1024 * 1024,
        part_size: int = 10 * 1024 * 1024,
        retry: RetryPolicy = DEFAULT_POLICY,
        watch_deadline: float | None = None,
        store_io: bool = True,
        object_expiry_seconds: int | None = None,
    ) -> None:
        connection = FalConnection(
            client, key=key, retry=retry, store_io=store_io, object_expiry_seconds=object_expiry_seconds
        )
        self._queue_url = queue_url.rstrip("/")
        self._queue = FalQueue(connection, queue_url=queue_url, watch_deadline=watch_deadline)
        self._storage = FalStorage(
            connection,
            rest_url=rest_url,
            cdn_url=cdn_url,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
        )

    def __repr__(self) -> str:  # never show the key
        return f"FalProvider(queue_url={self._queue_url!r})"

    async def submit(self, spec: JobSpec, *, webhook_url: str | None = None) -> list[Submission]:
        """Enqueue the job; with `webhook_url`, fal POSTs to it when the job ends (see server.webhooks)."""
        return await self._queue.submit(spec, provider=self.name, webhook_url=webhook_url)

    async def status(self, submission: Submission) -> QueueState:
        return await self._queue.status(submission)

    def watch(self, submission: Submission) -> AsyncIterator[QueueState]:
        return self._queue.watch(submission)

    async def result(self, submission: Submission) -> VideoOutput:
        return await self._queue.result(submission)

    async def cancel(self, submission: Submission) -> bool:
        return await self._queue.cancel(submission)

    async def upload(self, path: Path, content_type: str) -> str:
        return await self._storage.upload(path, content_type)
