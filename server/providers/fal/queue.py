"""fal.ai's queue: submit, status, the status stream (polling while it is broken), result, cancel.

Submit with POST `{queue}/{endpoint}`, follow `{status_url}/stream` (server-sent events) and fall
back to polling `{status_url}`, read `{response_url}`, cancel with PUT `{cancel_url}`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx

from ...catalogue.endpoints import served_id
from ...errors import (
    JobFailed,
    ProviderError,
    ProviderHTTPError,
    ProviderUnreachable,
)
from ...outbound import on_origins, origin_of
from .._http import read_error, send_with_retry, submit_once
from ..base import Finished, JobSpec, QueueState, Submission, VideoOutput
from .connection import FalConnection
from .errors import http_error, result_error, submit_uncertain
from .states import parse_status

logger = logging.getLogger(__name__)


# Polling between stream attempts: as soon as fal's JS client would poll, backing off so a broken
# stream costs a request every few seconds at most.
POLL_FIRST = 0.5
POLL_MAX = 3.0
# After this many stream attempts in a row that broke before any event, the stream is tried again
# only every few polls (a proxy that cannot stream should not double every poll).
STREAM_GIVE_UP_AFTER = 3
# A silent stream gets a `: ping` every 15 s; four missed pings means it is dead.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)


def endpoint_for(tier: str, mode: str, family: str = "2.0") -> str:
    """fal's endpoint id from the catalogue, e.g. `bytedance/seedance-2.0/fast/text-to-video`."""
    return served_id("fal", family, tier, mode)


class FalQueue:
    """One endpoint family's queue. Holds no job state: each call is given the job's `Submission`."""

    def __init__(self, connection: FalConnection, *, queue_url: str, watch_deadline: float | None) -> None:
        self._fal = connection
        self._queue_url = queue_url.rstrip("/")
        self._origins = frozenset({origin_of(self._queue_url)})  # where fal's own URLs may send the key
        # None: follow a job for as long as it takes (the job manager decides when to stop listening).
        self._watch_deadline = watch_deadline

    async def submit(
        self, spec: JobSpec, *, provider: str, webhook_url: str | None = None
    ) -> list[Submission]:
        fal = self._fal
        endpoint = endpoint_for(spec.tier, spec.mode, spec.family)
        url = f"{self._queue_url}/{endpoint}"
        body = json.dumps(spec.arguments).encode()
        params = {"fal_webhook": webhook_url} if webhook_url else None
        response = await submit_once(
            fal.client,
            lambda: fal.client.build_request(
                "POST", url, content=body, params=params, headers=fal.headers(json_body=True)
            ),
            policy=fal.retry,
            provider="fal.ai",
            base=self._queue_url,
            safe=fal.safe,
            uncertain=lambda what: submit_uncertain(endpoint, what, safe=fal.safe),
        )
        if response.status_code >= 400:
            raise http_error(response, action=f"submitting to {endpoint}", safe=fal.safe, nothing_queued=True)
        try:
            data = response.json()
            request_id = str(data["request_id"])
        except (ValueError, KeyError, TypeError):
            raise submit_uncertain(endpoint, "its answer had no request id", safe=fal.safe) from None

        base = f"{self._queue_url}/{_owner_app(endpoint)}/requests/{request_id}"
        submission = Submission(
            provider=provider,
            request_id=request_id,
            endpoint=endpoint,
            status_url=_ours_or(data.get("status_url"), f"{base}/status", self._origins),
            response_url=_ours_or(data.get("response_url"), base, self._origins),
            cancel_url=_ours_or(data.get("cancel_url"), f"{base}/cancel", self._origins),
        )
        logger.info("fal.ai queued %s as %s", endpoint, request_id)
        return [submission]

    async def status(self, submission: Submission) -> QueueState:
        url = self._urls(submission)[0]
        response = await self._fal.send("GET", url, params={"logs": "1"}, action="checking the job's status")
        if response.status_code not in (200, 202):
            raise http_error(response, action=f"checking job {submission.request_id}", safe=self._fal.safe)
        return parse_status(self._fal.json(response, "status"), self._fal.says)

    async def watch(self, submission: Submission) -> AsyncIterator[QueueState]:
        """Yield each new state until Finished: from the status stream, polling while it is broken."""
        deadline = None if self._watch_deadline is None else anyio.current_time() + self._watch_deadline
        last: QueueState | None = None
        poll_delay = POLL_FIRST
        stream_failures = 0  # stream attempts in a row that broke before any event
        polls_until_stream = 0

        while True:
            if polls_until_stream <= 0:
                got_event = False
                finished: Finished | None = None
                try:
                    async with aclosing(self._stream(submission)) as states:
                        async for state in states:
                            got_event = True
                            poll_delay = POLL_FIRST
                            if isinstance(state, Finished):
                                finished = state
                                break
                            if state != last:
                                last = state
                                yield state
                    if finished is None:
                        logger.info("fal.ai status stream for %s ended early; polling", submission.request_id)
                except (httpx.TransportError, ProviderError, ValueError) as exc:
                    # ProviderHTTPError included: a real problem (bad key, unknown job) shows up again,
                    # unretried, on the status poll below, where it is raised.
                    logger.info(
                        "fal.ai status stream for %s broke (%s); polling",
                        submission.request_id,
                        self._fal.safe(str(exc)),
                    )
                if finished is not None:
                    # Yielded once the stream is closed: its consumer saves the video (a download and a
                    # preview, queued behind every other job finishing) before it resumes us.
                    yield finished
                    return
                stream_failures = 0 if got_event else stream_failures + 1
                if stream_failures >= STREAM_GIVE_UP_AFTER:
                    polls_until_stream = min(2 ** (stream_failures - STREAM_GIVE_UP_AFTER + 1), 8)

            try:
                state = await self.status(submission)
            except (ProviderUnreachable, ProviderHTTPError) as exc:
                transient = isinstance(exc, ProviderUnreachable) or exc.retryable
                if not transient or (deadline is not None and anyio.current_time() > deadline):
                    raise
                logger.warning("status of %s unavailable (%s); still watching", submission.request_id, exc)
            else:
                if state != last:
                    last = state
                    yield state
                if isinstance(state, Finished):
                    return
            if deadline is not None and anyio.current_time() > deadline:
                raise ProviderError(
                    f"Stopped watching fal.ai job {submission.request_id} after "
                    f"{self._watch_deadline:.0f} s; it may still finish: check its status again later."
                )
            await anyio.sleep(poll_delay)
            poll_delay = min(poll_delay * 2, POLL_MAX)
            polls_until_stream -= 1

    async def _stream(self, submission: Submission) -> AsyncGenerator[QueueState, None]:
        """Parsed events of one status stream; raises when it cannot be opened or breaks."""
        from httpx_sse import EventSource

        fal = self._fal
        url = self._urls(submission)[0] + "/stream"
        headers = {**fal.headers(), "Accept": "text/event-stream", "Cache-Control": "no-store"}
        response = await send_with_retry(
            fal.client,
            lambda: fal.client.build_request(
                "GET", url, params={"logs": "1"}, headers=headers, timeout=STREAM_TIMEOUT
            ),
            policy=fal.retry,
            stream=True,
        )
        try:
            if response.status_code != 200:
                await response.aread()
                raise http_error(response, action="opening the status stream", safe=fal.safe)
            events = EventSource(response).aiter_sse()
            try:
                async for event in events:
                    if not event.data.strip():
                        continue
                    yield parse_status(json.loads(event.data), fal.says)
            finally:
                await events.aclose()
        finally:
            await response.aclose()

    async def result(self, submission: Submission) -> VideoOutput:
        url = self._urls(submission)[1]
        response = await self._fal.send("GET", url, action="fetching the result")
        if response.status_code >= 400:
            raise result_error(submission.request_id, response, safe=self._fal.safe)
        return video_output(submission.request_id, self._fal.json(response, "result"))

    async def cancel(self, submission: Submission) -> bool:
        url = self._urls(submission)[2]
        response = await self._fal.send("PUT", url, action="cancelling the job")
        if response.is_success:
            return True
        if response.status_code in (400, 404):  # ALREADY_COMPLETED / NOT_FOUND: nothing left to cancel
            logger.info(
                "cancel of %s refused: %s", submission.request_id, self._fal.says(read_error(response).text)
            )
            return False
        raise http_error(response, action=f"cancelling job {submission.request_id}", safe=self._fal.safe)

    def _urls(self, submission: Submission) -> tuple[str, str, str]:
        """Status, response and cancel URLs: as fal returned them when they are on the configured queue's
        origin (they are sent with the key), else built from the request id."""
        base = f"{self._queue_url}/{_owner_app(submission.endpoint)}/requests/{submission.request_id}"
        given = (submission.status_url, submission.response_url, submission.cancel_url)
        built = (f"{base}/status", base, f"{base}/cancel")
        status, response, cancel = (
            url if url and on_origins(url, self._origins) else fallback
            for url, fallback in zip(given, built, strict=True)
        )
        return status, response, cancel


def _owner_app(endpoint: str) -> str:
    """Status, result and cancel URLs use only owner/app, never the endpoint's sub-path."""
    return "/".join(endpoint.split("/")[:2])


def _ours_or(value: Any, fallback: str, origins: frozenset[str]) -> str:
    """fal's URL when it is on the queue's own origin; else ours (a URL elsewhere never gets the key)."""
    if isinstance(value, str) and value and on_origins(value, origins):
        return value
    if value:
        logger.warning("fal.ai gave a job URL off its queue host; using the queue's own URL instead")
    return fallback


def video_output(request_id: str, data: Any) -> VideoOutput:
    """A finished job's video from fal's result JSON: the result read's answer, or the payload of a
    completion webhook signed by fal (the same JSON)."""
    video = data.get("video") if isinstance(data, dict) else None
    if not isinstance(video, dict) or not isinstance(video.get("url"), str):
        raise JobFailed(
            f"fal.ai finished job {request_id} but its answer holds no video URL; try again.",
            error_type="no_media_generated",
        )
    seed = data.get("seed")
    size = video.get("file_size")
    draft_id = data.get("draft_id")
    return VideoOutput(
        url=video["url"],
        seed=seed if isinstance(seed, int) else None,
        content_type=str(video.get("content_type") or "video/mp4"),
        file_name=str(video["file_name"]) if video.get("file_name") else None,
        file_size=size if isinstance(size, int) else None,
        draft_id=draft_id if isinstance(draft_id, str) and draft_id else None,
        draft_expires=_epoch(data.get("draft_expires_at")),
    )


def _epoch(stamp: Any) -> float | None:
    """An ISO 8601 time (fal's `draft_expires_at`) as epoch seconds; None when absent or unreadable."""
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
