"""The fal.ai provider: Seedance 2.0 through fal's queue API, status stream and storage.

Wire facts are in `shared/reference/fal-queue-protocol.md`. In short: submit with POST to
`{queue}/{endpoint}`, follow `{status_url}/stream` (server-sent events) and fall back to polling
`{status_url}` when the stream breaks, read `{response_url}`, cancel with PUT `{cancel_url}`.
Uploads go to fal's CDN with a short-lived storage token, or to the older GCS flow when the token
service is missing or failing.

Every error answer becomes a sentence naming what happened and what to do; the API key never
appears in one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx

from seedance_mcp.server.errors import JobFailed, ProviderError, ProviderHTTPError, SubmitUncertain
from seedance_mcp.server.model_facts import Mode, Tier
from seedance_mcp.server.providers._http import (
    DEFAULT_POLICY,
    ProviderUnreachable,
    RetryPolicy,
    describe_transport_error,
    file_chunks,
    read_error,
    redact,
    send_reachable,
    send_with_retry,
    submit_once,
    user_agent,
)
from seedance_mcp.server.providers.base import (
    Finished,
    JobSpec,
    LogLine,
    Queued,
    QueueState,
    Running,
    Submission,
    VideoOutput,
)

logger = logging.getLogger(__name__)

APP = "bytedance/seedance-2.0"
MODES: tuple[Mode, ...] = ("text-to-video", "image-to-video", "reference-to-video")

KEY_HINT = "check FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET); keys are made at https://fal.ai/dashboard/keys"
BILLING_URL = "https://fal.ai/dashboard/billing"

# fal's infrastructure error types (result endpoint, `error_type` field or X-Fal-Error-Type header):
# what happened, and what to do. `runner_connection_*` is matched by prefix.
ERROR_TYPES: dict[str, str] = {
    "request_timeout": "the job ran longer than fal.ai allows and was stopped; try again, "
    "or ask for a shorter duration or 480p",
    "startup_timeout": "fal.ai could not start a worker for the job in time; try again in a few minutes",
    "runner_scheduling_failure": "fal.ai could not find a worker to run the job; try again in a few minutes",
    "runner_disconnected": "the worker running the job disconnected before finishing; try again",
    "runner_connection_": "fal.ai lost its connection to the worker running the job; try again",
    "runner_incomplete_response": "the worker sent back an incomplete answer; try again",
    "runner_server_error": "the model failed while generating; try again, and if it keeps failing "
    "change the prompt or the input media",
    "internal_error": "fal.ai had an internal error; try again later (service status: https://status.fal.ai)",
    "client_cancelled": "the job was cancelled before it finished; submit it again if you still want it",
    "bad_request": "fal.ai rejected the request as malformed; check the inputs against the documented limits",
}

# Model error types in a 422 `detail` list, with the fix to suggest.
DETAIL_FIXES: dict[str, str] = {
    "content_policy_violation": "rephrase the prompt (or replace the flagged media) so it stays within "
    "fal.ai's content policy, then try again",
    "file_download_error": "make sure the URL is public and points at the file itself, or pass a local file",
    "file_too_large": "use a smaller file (see the documented size limits)",
    "image_too_large": "use a smaller image (see the documented size limits)",
    "no_media_generated": "the model produced no video; try again or change the prompt",
    "feature_not_supported": "drop that option or pick a mode that supports it",
    "missing": "add this field",
    "literal_error": "use one of the documented values",
    "enum": "use one of the documented values",
}

# Polling between stream attempts: as soon as fal's JS client would poll, backing off so a broken
# stream costs a request every few seconds at most.
POLL_FIRST = 0.5
POLL_MAX = 3.0
# After this many stream attempts in a row that broke before any event, the stream is tried again
# only every few polls (a proxy that cannot stream should not double every poll).
STREAM_GIVE_UP_AFTER = 3
# A silent stream gets a `: ping` every 15 s; four missed pings means it is dead.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)
# Renew the storage token this long before fal says it expires, so an upload never starts on a dying one.
TOKEN_MARGIN_SECONDS = 60.0


def endpoint_for(tier: Tier, mode: Mode) -> str:
    """fal's endpoint id for a tier and mode, e.g. `bytedance/seedance-2.0/fast/text-to-video`."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    return f"{APP}/fast/{mode}" if tier == "fast" else f"{APP}/{mode}"


def parse_status(data: Any) -> QueueState:
    """One status object (from polling or from the stream) as a neutral queue state."""
    if not isinstance(data, dict):
        raise ProviderError(f"fal.ai sent a status that is not an object: {str(data)[:200]}")
    status = data.get("status")
    if status == "IN_QUEUE":
        position = data.get("queue_position")
        return Queued(position=position if isinstance(position, int) else None)
    if status == "IN_PROGRESS":
        return Running(logs=_parse_logs(data.get("logs")))
    if status == "COMPLETED":
        error = data.get("error")
        error_type = data.get("error_type")
        metrics = data.get("metrics")
        error_text = str(error) if error else None
        kind = str(error_type) if error_type else None
        return Finished(
            error=error_text,
            error_type=kind,
            cancelled=kind == "client_cancelled",
            metrics=dict(metrics) if isinstance(metrics, dict) else {},
        )
    raise ProviderError(
        f"fal.ai sent an unknown job status {status!r}; expected IN_QUEUE, IN_PROGRESS or COMPLETED"
    )


def _parse_logs(raw: Any) -> tuple[LogLine, ...]:
    if not isinstance(raw, list):  # null when logs were not asked for
        return ()
    lines: list[LogLine] = []
    for entry in raw:
        if isinstance(entry, dict):
            lines.append(
                LogLine(
                    message=str(entry.get("message", "")),
                    level=str(entry.get("level") or "INFO"),
                    timestamp=str(entry["timestamp"]) if entry.get("timestamp") else None,
                )
            )
        elif isinstance(entry, str):
            lines.append(LogLine(message=entry))
    return tuple(lines)


def error_type_sentence(error_type: str) -> str | None:
    if error_type in ERROR_TYPES:
        return ERROR_TYPES[error_type]
    if error_type.startswith("runner_connection"):
        return ERROR_TYPES["runner_connection_"]
    return None


def render_detail_list(details: list[Any]) -> str:
    """A 422 `detail` list as `field: message (fix: ...)` items joined by `; `."""
    parts: list[str] = []
    for item in details:
        if not isinstance(item, dict):
            parts.append(str(item))
            continue
        loc = [str(p) for p in item.get("loc") or [] if p not in ("body",)]
        where = ".".join(loc)
        msg = str(item.get("msg") or item.get("type") or "invalid value")
        kind = str(item.get("type") or "")
        fix = DETAIL_FIXES.get(kind) or (f"change {where} to a documented value" if where else "")
        text = f"{where}: {msg}" if where else msg
        parts.append(f"{text} (fix: {fix})" if fix else text)
    return "; ".join(parts)


@dataclass(frozen=True)
class _CdnToken:
    value: str
    token_type: str
    expires_at: float  # anyio clock

    def header(self) -> str:
        return f"{self.token_type or 'Bearer'} {self.value}"


class _StorageTokenUnavailable(Exception):
    """The CDN token service is missing (404) or failing (5xx, unreachable): use the GCS flow."""


class _TokenRejected(Exception):
    """The CDN answered 401 to a storage token we believed valid."""


def _check_token_accepted(response: httpx.Response) -> None:
    if response.status_code == 401:
        raise _TokenRejected


class FalProvider:
    """Seedance 2.0 on fal.ai. Given the process's HTTP client; holds only the cached storage token."""

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
    ) -> None:
        self._client = client
        self._key = key
        self._queue_url = queue_url.rstrip("/")
        self._rest_url = rest_url.rstrip("/")
        self._cdn_url = cdn_url.rstrip("/")
        self._multipart_threshold = multipart_threshold
        self._part_size = part_size
        self._retry = retry
        # None: follow a job for as long as it takes (the job manager decides when to stop listening).
        self._watch_deadline = watch_deadline
        self._token: _CdnToken | None = None
        self._token_lock = anyio.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"FalProvider(queue_url={self._queue_url!r})"

    # -- queue -------------------------------------------------------------------------------------

    def endpoint_for(self, tier: Tier, mode: Mode) -> str:
        return endpoint_for(tier, mode)

    async def submit(self, spec: JobSpec, *, webhook_url: str | None = None) -> list[Submission]:
        """Enqueue the job; with `webhook_url`, fal POSTs to it when the job ends (see server.webhooks)."""
        endpoint = endpoint_for(spec.tier, spec.mode)
        url = f"{self._queue_url}/{endpoint}"
        body = json.dumps(spec.arguments).encode()
        params = {"fal_webhook": webhook_url} if webhook_url else None
        response = await submit_once(
            self._client,
            lambda: self._client.build_request(
                "POST", url, content=body, params=params, headers=self._headers(json_body=True)
            ),
            policy=self._retry,
            provider="fal.ai",
            base=self._queue_url,
            safe=self._safe,
            uncertain=lambda what: self._uncertain(endpoint, what),
        )
        if response.status_code >= 400:
            raise self._http_error(response, action=f"submitting to {endpoint}", nothing_queued=True)
        try:
            data = response.json()
            request_id = str(data["request_id"])
        except (ValueError, KeyError, TypeError):
            raise self._uncertain(endpoint, "its answer had no request id") from None

        base = f"{self._queue_url}/{_owner_app(endpoint)}/requests/{request_id}"
        submission = Submission(
            provider=self.name,
            request_id=request_id,
            endpoint=endpoint,
            status_url=_str_or(data.get("status_url"), f"{base}/status"),
            response_url=_str_or(data.get("response_url"), base),
            cancel_url=_str_or(data.get("cancel_url"), f"{base}/cancel"),
        )
        logger.info("fal.ai queued %s as %s", endpoint, request_id)
        return [submission]

    async def status(self, submission: Submission) -> QueueState:
        url = self._urls(submission)[0]
        response = await self._send("GET", url, params={"logs": "1"}, action="checking the job's status")
        if response.status_code not in (200, 202):
            raise self._http_error(response, action=f"checking job {submission.request_id}")
        return parse_status(_json(response, "status"))

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
                try:
                    async with aclosing(self._stream(submission)) as states:
                        async for state in states:
                            got_event = True
                            poll_delay = POLL_FIRST
                            if state != last:
                                last = state
                                yield state
                            if isinstance(state, Finished):
                                return
                    logger.info("fal.ai status stream for %s ended early; polling", submission.request_id)
                except (httpx.TransportError, ProviderError, ValueError) as exc:
                    # ProviderHTTPError included: a real problem (bad key, unknown job) shows up again,
                    # unretried, on the status poll below, where it is raised.
                    logger.info("fal.ai status stream for %s broke (%s); polling", submission.request_id, exc)
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

        url = self._urls(submission)[0] + "/stream"
        headers = {**self._headers(), "Accept": "text/event-stream", "Cache-Control": "no-store"}
        response = await send_with_retry(
            self._client,
            lambda: self._client.build_request(
                "GET", url, params={"logs": "1"}, headers=headers, timeout=STREAM_TIMEOUT
            ),
            policy=self._retry,
            stream=True,
        )
        try:
            if response.status_code != 200:
                await response.aread()
                raise self._http_error(response, action="opening the status stream")
            events = EventSource(response).aiter_sse()
            try:
                async for event in events:
                    if not event.data.strip():
                        continue
                    yield parse_status(json.loads(event.data))
            finally:
                await events.aclose()
        finally:
            await response.aclose()

    async def result(self, submission: Submission) -> VideoOutput:
        url = self._urls(submission)[1]
        response = await self._send("GET", url, action="fetching the result")
        if response.status_code >= 400:
            raise self._result_error(submission, response)
        data = _json(response, "result")
        video = data.get("video") if isinstance(data, dict) else None
        if not isinstance(video, dict) or not isinstance(video.get("url"), str):
            raise JobFailed(
                f"fal.ai finished job {submission.request_id} but its answer holds no video URL; try again.",
                error_type="no_media_generated",
            )
        seed = data.get("seed")
        size = video.get("file_size")
        return VideoOutput(
            url=video["url"],
            seed=seed if isinstance(seed, int) else None,
            content_type=str(video.get("content_type") or "video/mp4"),
            file_name=str(video["file_name"]) if video.get("file_name") else None,
            file_size=size if isinstance(size, int) else None,
        )

    async def cancel(self, submission: Submission) -> bool:
        url = self._urls(submission)[2]
        response = await self._send("PUT", url, action="cancelling the job")
        if response.is_success:
            return True
        if response.status_code in (400, 404):  # ALREADY_COMPLETED / NOT_FOUND: nothing left to cancel
            logger.info("cancel of %s refused: %s", submission.request_id, read_error(response).text[:200])
            return False
        raise self._http_error(response, action=f"cancelling job {submission.request_id}")

    # -- storage -----------------------------------------------------------------------------------

    async def upload(self, path: Path, content_type: str) -> str:
        size = (await anyio.Path(path).stat()).st_size
        for attempt in (1, 2):
            try:
                token = await self._cdn_token()
            except _StorageTokenUnavailable as exc:
                logger.warning(
                    "fal.ai CDN token unavailable (%s); uploading %s through the storage API", exc, path.name
                )
                return await self._upload_gcs(path, content_type, size)
            try:
                if size > self._multipart_threshold:
                    return await self._upload_multipart(path, content_type, size, token)
                return await self._upload_single(path, content_type, size, token)
            except _TokenRejected:
                # Revoked or expired early: one fresh token, then give up.
                self._token = None
                logger.info("fal.ai CDN refused the upload token (attempt %d)", attempt)
        raise ProviderHTTPError(
            f"fal.ai's storage refused a fresh upload token (401) while uploading {path.name}; "
            "try again in a minute, and check FAL_KEY if it keeps happening.",
            status=401,
        )

    async def _upload_single(self, path: Path, content_type: str, size: int, token: _CdnToken) -> str:
        url = f"{self._cdn_url}/files/upload"
        headers = {
            "Authorization": token.header(),
            "User-Agent": user_agent(),
            "Accept": "application/json",
            "Content-Type": content_type,
            "Content-Length": str(size),
            "X-Fal-File-Name": path.name,
        }
        response = await self._send_built(
            lambda: self._client.build_request("POST", url, content=file_chunks(path), headers=headers),
            action=f"uploading {path.name}",
        )
        _check_token_accepted(response)
        if not response.is_success:
            raise self._http_error(response, action=f"uploading {path.name}")
        return _access_url(response, path.name)

    async def _upload_multipart(self, path: Path, content_type: str, size: int, token: _CdnToken) -> str:
        auth = {"Authorization": token.header(), "User-Agent": user_agent()}
        start = await self._send_built(
            lambda: self._client.build_request(
                "POST",
                f"{self._cdn_url}/files/upload/multipart",
                headers={
                    **auth,
                    "Accept": "application/json",
                    "Content-Type": content_type,
                    "X-Fal-File-Name": path.name,
                },
            ),
            action=f"starting the upload of {path.name}",
        )
        _check_token_accepted(start)
        if not start.is_success:
            raise self._http_error(start, action=f"starting the upload of {path.name}")
        data = _json(start, "multipart upload")
        try:
            access_url = str(data["access_url"])
            upload_id = str(data["uploadId"])
        except (KeyError, TypeError):
            raise ProviderError(
                f"fal.ai's answer to a multipart upload lacked access_url/uploadId: {data!r:.200}"
            ) from None

        parts: list[dict[str, Any]] = []
        count = -(-size // self._part_size)
        for number in range(1, count + 1):
            offset = (number - 1) * self._part_size
            length = min(self._part_size, size - offset)

            def build(offset: int = offset, length: int = length, number: int = number) -> httpx.Request:
                return self._client.build_request(
                    "PUT",
                    f"{access_url}/multipart/{upload_id}/{number}",
                    content=file_chunks(path, offset, length),
                    headers={
                        **auth,
                        "Content-Type": content_type,
                        "Content-Length": str(length),
                        "Accept-Encoding": "identity",  # keeps the ETag header intact
                    },
                )

            response = await self._send_built(build, action=f"uploading part {number} of {path.name}")
            _check_token_accepted(response)
            if not response.is_success:
                raise self._http_error(response, action=f"uploading part {number}/{count} of {path.name}")
            etag = response.headers.get("etag")
            if not etag:
                raise ProviderError(
                    f"fal.ai accepted part {number} of {path.name} but sent no ETag; try again."
                )
            parts.append({"partNumber": number, "etag": etag})

        body = json.dumps({"parts": parts}).encode()
        done = await self._send_built(
            lambda: self._client.build_request(
                "POST",
                f"{access_url}/multipart/{upload_id}/complete",
                content=body,
                headers={**auth, "Content-Type": "application/json"},
            ),
            action=f"finishing the upload of {path.name}",
        )
        _check_token_accepted(done)
        if not done.is_success:
            raise self._http_error(done, action=f"finishing the upload of {path.name}")
        return access_url

    async def _upload_gcs(self, path: Path, content_type: str, size: int) -> str:
        url = f"{self._rest_url}/storage/upload/initiate"
        body = json.dumps({"file_name": path.name, "content_type": content_type}).encode()
        start = await self._send_built(
            lambda: self._client.build_request(
                "POST",
                url,
                params={"storage_type": "gcs"},
                content=body,
                headers=self._headers(json_body=True),
            ),
            action=f"starting the upload of {path.name}",
        )
        if not start.is_success:
            raise self._http_error(start, action=f"starting the upload of {path.name}")
        data = _json(start, "upload")
        try:
            upload_url = str(data["upload_url"])
            file_url = str(data["file_url"])
        except (KeyError, TypeError):
            raise ProviderError(f"fal.ai's upload answer lacked upload_url/file_url: {data!r:.200}") from None
        # A signed URL on another host: no fal key goes with it.
        put = await self._send_built(
            lambda: self._client.build_request(
                "PUT",
                upload_url,
                content=file_chunks(path),
                headers={
                    "Content-Type": content_type,
                    "Content-Length": str(size),
                    "User-Agent": user_agent(),
                },
            ),
            action=f"uploading {path.name}",
        )
        if not put.is_success:
            raise self._http_error(put, action=f"uploading {path.name}")
        return file_url

    async def _cdn_token(self) -> _CdnToken:
        async with self._token_lock:
            now = anyio.current_time()
            if self._token is not None and now < self._token.expires_at:
                return self._token
            url = f"{self._rest_url}/storage/auth/token"
            try:
                response = await send_with_retry(
                    self._client,
                    lambda: self._client.build_request(
                        "POST",
                        url,
                        params={"storage_type": "fal-cdn-v3"},
                        content=b"{}",
                        headers=self._headers(json_body=True),
                    ),
                    policy=self._retry,
                )
            except httpx.TransportError as exc:
                raise _StorageTokenUnavailable(describe_transport_error(exc)) from None
            if response.status_code == 404 or response.status_code >= 500:
                raise _StorageTokenUnavailable(f"token service answered {response.status_code}")
            if not response.is_success:
                raise self._http_error(response, action="getting an upload token")
            data = _json(response, "upload token")
            try:
                value = str(data["token"])
            except (KeyError, TypeError):
                raise _StorageTokenUnavailable("token answer had no token") from None
            self._token = _CdnToken(
                value=value,
                token_type=str(data.get("token_type") or "Bearer"),
                expires_at=now + _seconds_until(data.get("expires_at")) - TOKEN_MARGIN_SECONDS,
            )
            return self._token

    # -- plumbing ----------------------------------------------------------------------------------

    def _headers(self, *, json_body: bool = False) -> dict[str, str]:
        headers = {
            "Authorization": f"Key {self._key}",
            "User-Agent": user_agent(),
            "Accept": "application/json",
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _urls(self, submission: Submission) -> tuple[str, str, str]:
        """Status, response and cancel URLs: as fal returned them, else built from the request id."""
        base = f"{self._queue_url}/{_owner_app(submission.endpoint)}/requests/{submission.request_id}"
        return (
            submission.status_url or f"{base}/status",
            submission.response_url or base,
            submission.cancel_url or f"{base}/cancel",
        )

    async def _send(
        self, method: str, url: str, *, action: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self._send_built(
            lambda: self._client.build_request(method, url, params=params, headers=self._headers()),
            action=action,
        )

    async def _send_built(self, make: Callable[[], httpx.Request], *, action: str) -> httpx.Response:
        return await send_reachable(
            self._client, make, policy=self._retry, provider="fal.ai", action=action, safe=self._safe
        )

    def _safe(self, text: str) -> str:
        return redact(text, [self._key])

    def _uncertain(self, endpoint: str, what: str) -> SubmitUncertain:
        return SubmitUncertain(
            f"The submit to fal.ai ({endpoint}) may or may not have been received ({self._safe(what)}): "
            "a job may exist and be charged. Do not resubmit blindly; first look for a new request "
            "at https://fal.ai/dashboard/requests."
        )

    def _http_error(
        self, response: httpx.Response, *, action: str, nothing_queued: bool = False
    ) -> ProviderHTTPError:
        """An error answer outside a job's own failure, as a sentence."""
        body = read_error(response)
        status = body.status
        detail = self._safe(_detail_text(body.detail) or body.text[:300])
        if status == 401:
            message = f"fal.ai rejected the API key (401) while {action}: {KEY_HINT}."
        elif status == 403:
            if any(word in detail.lower() for word in ("balance", "locked", "billing")):
                message = (
                    f"fal.ai refused the request (403): the account is locked ({detail}). "
                    f"Top up at {BILLING_URL}, then try again."
                )
            else:
                message = (
                    f"fal.ai refused the request (403) while {action}: {detail}. Check the key's permissions."
                )
        elif status == 422 and isinstance(body.detail, list):
            message = f"fal.ai rejected the input: {self._safe(render_detail_list(body.detail))}"
        elif status == 429:
            message = (
                "fal.ai is at this account's limit of concurrent requests (429) and refused "
                f"{action}{'; nothing was queued' if nothing_queued else ''}. "
                "Wait for running jobs to finish, then try again."
            )
        elif status == 404:
            message = f"fal.ai found nothing at {response.request.url.path} (404) while {action}: {detail}."
        elif body.error_type and error_type_sentence(body.error_type):
            sentence = error_type_sentence(body.error_type)
            message = f"fal.ai failed while {action} ({status}, {body.error_type}): {sentence}."
        elif status >= 500:
            message = f"fal.ai had a server error ({status}) while {action}: {detail}. Try again in a minute."
        else:
            message = f"fal.ai answered {status} while {action}: {detail}."
        return ProviderHTTPError(message, status=status, error_type=body.error_type)

    def _result_error(self, submission: Submission, response: httpx.Response) -> ProviderError:
        """The result endpoint's error: a job's own failure is JobFailed; access problems stay HTTP errors."""
        body = read_error(response)
        job = submission.request_id
        if isinstance(body.detail, list) and body.detail:
            types = [str(d.get("type")) for d in body.detail if isinstance(d, dict) and d.get("type")]
            rendered = self._safe(render_detail_list(body.detail))
            if "content_policy_violation" in types:
                return JobFailed(
                    f"fal.ai refused job {job} under its content policy: {rendered}",
                    error_type="content_policy_violation",
                )
            return JobFailed(
                f"fal.ai rejected the input of job {job}: {rendered}", error_type=types[0] if types else None
            )
        if body.error_type:
            sentence = error_type_sentence(body.error_type) or "the job failed"
            detail = self._safe(_detail_text(body.detail))
            extra = f" (fal.ai said: {detail})" if detail else ""
            return JobFailed(
                f"Job {job} failed ({body.error_type}): {sentence}{extra}.", error_type=body.error_type
            )
        if response.status_code == 404:
            return ProviderHTTPError(
                f"fal.ai has no result for job {job} (404): fal.ai keeps results about an hour.",
                status=404,
            )
        if response.status_code in (400, 422):
            detail = self._safe(_detail_text(body.detail) or body.text[:300])
            return JobFailed(f"Job {job} failed: {detail}", error_type=None)
        return self._http_error(response, action=f"fetching the result of job {job}")


def _owner_app(endpoint: str) -> str:
    """Status, result and cancel URLs use only owner/app, never the endpoint's sub-path."""
    return "/".join(endpoint.split("/")[:2])


def _str_or(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _detail_text(detail: Any) -> str:
    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return render_detail_list(detail)
    return json.dumps(detail)[:300]


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            f"fal.ai sent an unreadable {what} answer ({response.status_code}): {response.text[:200]!r}"
        ) from None


def _access_url(response: httpx.Response, name: str) -> str:
    data = _json(response, "upload")
    url = data.get("access_url") if isinstance(data, dict) else None
    if not isinstance(url, str):
        raise ProviderError(f"fal.ai accepted {name} but returned no access_url; try the upload again.")
    return url


def _seconds_until(expires_at: Any) -> float:
    """Seconds until an ISO-8601 or epoch expiry; a short default when fal does not say."""
    default = 10 * 60.0
    if isinstance(expires_at, (int, float)):
        return float(expires_at) - datetime.now(timezone.utc).timestamp()
    if isinstance(expires_at, str):
        try:
            when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return (when - datetime.now(timezone.utc)).total_seconds()
    return default
