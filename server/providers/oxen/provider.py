"""`OxenProvider`: Seedance 2.0 on Oxen.ai behind the neutral `Provider` interface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from ...catalogue.declaration import Endpoint
from ...errors import ProviderError
from .._http import DEFAULT_POLICY, RetryPolicy
from ..base import JobSpec, QueueState, Submission, VideoOutput
from . import blocking
from .connection import OxenConnection
from .pricing import OxenPrice, price_of
from .queue import POLL_FIRST, POLL_MAX, SAFETY_POLL, OxenQueue
from .schema import ModelCatalog, ModelInfo, model_for, translate
from .storage import DATA_URI_MAX_BYTES, OxenStorage, Uploader


class OxenProvider:
    """Seedance 2.0 on Oxen.ai: the queue, or the blocking endpoint when `response_format` is asked for.

    Given the process's HTTP client; holds no job state (only the model schemas, read once). Queued
    generations are followed through Oxen's event stream, one subscription for all of them, and
    polled while it is down (see `queue` and `events`).
    """

    name = "oxen"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        key: str,
        base_url: str,
        upload_repo: str | None = None,
        fallback_upload: Uploader | None = None,
        retry: RetryPolicy = DEFAULT_POLICY,
        poll_first: float = POLL_FIRST,
        poll_max: float = POLL_MAX,
        safety_poll: float = SAFETY_POLL,
        data_uri_max_bytes: int = DATA_URI_MAX_BYTES,
    ) -> None:
        self._oxen = OxenConnection(client, key=key, base_url=base_url, retry=retry)
        self._models = ModelCatalog(self._oxen)
        self._queue = OxenQueue(self._oxen, poll_first=poll_first, poll_max=poll_max, safety_poll=safety_poll)
        self._storage = OxenStorage(
            self._oxen,
            upload_repo=upload_repo,
            fallback_upload=fallback_upload,
            data_uri_max_bytes=data_uri_max_bytes,
        )

    def __repr__(self) -> str:  # never show the key
        return f"OxenProvider(base_url={self._oxen.base!r})"

    def auth_headers_for(self, url: str) -> dict[str, str]:
        """The Bearer header for a URL on the Oxen host itself; nothing for any other host."""
        return self._oxen.auth_headers_for(url)

    async def model_info(self, model: str) -> ModelInfo:
        """The model's live schema and pricing (cached), or the seeds' shape when it cannot be read."""
        return await self._models.get(model)

    async def price(self, entry: Endpoint, values: Mapping[str, Any]) -> OxenPrice | None:
        """Per-second price from the model's pricing object; None when Oxen gives none we understand."""
        oxen_id = entry.id_for("oxen")
        if oxen_id is None:
            return None
        return price_of(await self._models.get(oxen_id), values)

    async def submit(self, spec: JobSpec) -> list[Submission]:
        model = model_for(spec.tier, spec.mode, spec.family)
        body = translate(spec, await self._models.get(model))
        if body.get("response_format"):
            if spec.count > 1:
                raise ProviderError("several videos per call need Oxen's queue: drop response_format")
            return [blocking.prepare(self._oxen, body, model=model, provider=self.name)]
        return await self._queue.enqueue(body, model=model, provider=self.name, count=spec.count)

    async def status(self, submission: Submission) -> QueueState:
        if blocking.is_blocking(submission):
            return blocking.status(submission)
        return await self._queue.status(submission)

    def watch(self, submission: Submission) -> AsyncIterator[QueueState]:
        if blocking.is_blocking(submission):
            return blocking.watch(self._oxen, submission)
        return self._queue.watch(submission)

    async def result(self, submission: Submission) -> VideoOutput:
        if blocking.is_blocking(submission):
            return blocking.result(submission)
        return await self._queue.result(submission)

    async def cancel(self, submission: Submission) -> bool:
        if blocking.is_blocking(submission):
            return False  # a blocking request cannot be called back
        return await self._queue.cancel(submission)

    async def upload(self, path: Path, content_type: str) -> str:
        return await self._storage.upload(path, content_type)
