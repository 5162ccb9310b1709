"""Oxen.ai's blocking endpoint, POST `/api/ai/videos/generate`, for users who ask for `response_format`.

It answers after 1-15 minutes with the video (a URL or base64 bytes), so `submit` only prepares the
request: the body rides with the job as a `PendingCall`, `watch` sends it and stores the outcome
there, and `result` reads it. Nothing is kept in the provider; a restart loses the call (and says so).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ...errors import JobFailed
from .._http import describe_transport_error
from ..base import (
    Finished,
    LogLine,
    PendingCall,
    QueueState,
    Running,
    Submission,
    VideoOutput,
)
from .connection import OxenConnection, json_or_none
from .errors import LOST_BLOCKING, explain, parse_error

# The blocking endpoint answers after 1-15 minutes.
BLOCKING_TIMEOUT = httpx.Timeout(30.0, read=16 * 60.0)
REQUEST_ID_PREFIX = "sync-"
INTERRUPTED = (
    "Following the blocking Oxen.ai request was interrupted while it was waiting; a video may still have "
    "been made and charged. Check your Oxen.ai account before trying again."
)


def is_blocking(submission: Submission) -> bool:
    return submission.request_id.startswith(REQUEST_ID_PREFIX)


def prepare(oxen: OxenConnection, body: dict[str, Any], *, model: str, provider: str) -> Submission:
    """The job's handle, holding the request that `watch` will send."""
    return Submission(
        provider=provider,
        request_id=f"{REQUEST_ID_PREFIX}{uuid.uuid4()}",
        endpoint=model,
        response_url=f"{oxen.base}/api/ai/videos/generate",
        pending=PendingCall(body=body),
    )


def status(submission: Submission) -> QueueState:
    call = submission.pending
    if call is None:
        return Finished(error=LOST_BLOCKING, error_type="lost")
    if call.outcome is None:
        return Running()
    return Finished(error=str(call.outcome) if isinstance(call.outcome, JobFailed) else None)


async def watch(oxen: OxenConnection, submission: Submission) -> AsyncIterator[QueueState]:
    call = submission.pending
    if call is None or call.sent:
        yield status(submission)
        return
    call.sent = True
    yield Running(logs=(LogLine("Waiting for Oxen.ai's blocking generate call (1-15 minutes)"),))
    try:
        call.outcome = await _generate(oxen, submission.response_url, call.body)
    finally:
        if call.outcome is None:  # interrupted while waiting: the video may still be made and charged
            call.outcome = JobFailed(INTERRUPTED, error_type="uncertain")
    yield status(submission)


def result(submission: Submission) -> VideoOutput:
    call = submission.pending
    if call is None:
        raise JobFailed(LOST_BLOCKING, error_type="lost")
    if call.outcome is None:
        raise JobFailed(
            "The blocking Oxen.ai request has not answered yet; check the job's status again.",
            error_type="no_media",
        )
    if isinstance(call.outcome, JobFailed):
        raise call.outcome
    return call.outcome


async def _generate(oxen: OxenConnection, url: str, body: dict[str, Any]) -> VideoOutput | JobFailed:
    content = json.dumps(body).encode()
    try:
        response = await oxen.client.post(
            url, content=content, headers=oxen.headers(json_body=True), timeout=BLOCKING_TIMEOUT
        )
    except httpx.TransportError as exc:
        return JobFailed(
            f"The blocking Oxen.ai request broke ({oxen.safe(describe_transport_error(exc))}); "
            "a video may still have been made and charged. Check your Oxen.ai account before retrying.",
            error_type="uncertain",
        )
    if response.status_code >= 400:
        kind, message = parse_error(response)
        return JobFailed(
            f"Oxen.ai refused the blocking generation ({response.status_code}"
            f"{', ' + kind if kind else ''}): {explain(message, oxen.safe)}",
            error_type=kind,
        )
    data = json_or_none(response)
    videos = data.get("videos") if isinstance(data, dict) else None
    first = videos[0] if isinstance(videos, list) and videos and isinstance(videos[0], dict) else {}
    if isinstance(first.get("b64_json"), str):
        try:
            raw = base64.b64decode(first["b64_json"], validate=True)
        except ValueError:
            return JobFailed("Oxen.ai sent a b64_json video that is not valid base64; try again.")
        return VideoOutput(url="", data=raw)
    if isinstance(first.get("url"), str):
        return VideoOutput(url=first["url"])
    return JobFailed("Oxen.ai finished but its answer holds no video; try again.", error_type="no_media")
