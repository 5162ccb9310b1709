"""Push completion: with `SEEDANCE_PUBLIC_URL` set, fal tells our HTTP server when a job ends.

Each submit carries `fal_webhook=<public url>/webhooks/fal/<token>`, a token made for that job
alone (our job id and its HMAC under the team secret, so any replica can check it without a
lookup). A delivery is read only after three checks, cheapest first: the token is genuine, fal's
ED25519 signature verifies (`webhook_signatures`), and the signed request id is the one the
token's job made (the journal says). Bodies are capped before they are read.

fal signs the body, and its `payload` is the result's JSON: a verified delivery that says OK carries
the video, so the follower saves it without reading the result back (one request and one round trip
fewer per job). A delivery without a readable video (an error, a payload fal left out) is a wake-up
only, and the follower reads the result back from fal with our own key.

    fal ── POST /webhooks/fal/<token> ──► any replica ── NOTIFY seedance_wake ──► every replica
                                          (checks)     (request id + payload)           │
                   follower (WebhookFalProvider.watch) ◄── Wakeups.wake(request id, video) ◄┘
                   └─► Finished (the signed video, or GET result with our key) ─► the job manager saves

A webhook reaching the replica whose follower is waiting for it wakes that follower directly (no
round trip through PostgreSQL).

Without a webhook the follower still finishes: it reads the status once every
`SAFETY_CHECK_SECONDS` (polling as the fallback), so a lost delivery delays a job, never loses it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ..errors import JobFailed
from ..providers.base import Finished, JobSpec, QueueState, Submission, VideoOutput
from ..providers.fal import FalProvider
from ..providers.fal.queue import video_output
from .webhook_signatures import BadSignature, FalSignatures

log = logging.getLogger(__name__)

WEBHOOK_PREFIX = "/webhooks/fal/"
WAKE_CHANNEL = "seedance_wake"  # PostgreSQL NOTIFY channel carrying woken request ids
# No webhook yet: read the status once (the fallback), then wait again. fal's renders take minutes.
SAFETY_CHECK_SECONDS = 90.0
# A wake-up whose read-back found the job unfinished (early, forged or replayed) is followed by
# this pause, so a flood of fake webhooks cannot turn into a flood of reads.
FUTILE_WAKE_PAUSE = 5.0
# fal's completion payload is the result's JSON (a video URL and a few fields): far below this.
MAX_WEBHOOK_BYTES = 256 * 1024
REMEMBERED_WAKES = 10_000  # webhooks that came before their follower waited (or for another replica)
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more: a larger video description goes as the
# request id alone, and that follower reads the result back.
NOTIFY_MAX_BYTES = 7900


class WebhookTokens:
    """Per-job URL tokens: `<job id>.<mac>`, checkable by any process holding the same key; a token
    names the one job it was made for."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def new(self, job_id: str) -> str:
        return f"{job_id}.{self._mac(job_id)}"

    def job_of(self, token: str) -> str | None:
        """The job a genuine token was made for; None for anything else."""
        job_id, dot, mac = token.rpartition(".")
        if not (job_id and dot) or len(token) > 200:
            return None
        return job_id if hmac.compare_digest(mac.encode(), self._mac(job_id).encode()) else None

    def _mac(self, job_id: str) -> str:
        return hmac.new(self._key, b"fal-webhook:" + job_id.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Wake:
    """A verified webhook came for a request: with its video when fal's signed body held one."""

    video: VideoOutput | None = None


class _Waiter:
    def __init__(self) -> None:
        self.event = anyio.Event()
        self.wake: Wake | None = None


class Wakeups:
    """Request ids woken by a webhook, and the followers waiting for theirs."""

    def __init__(self) -> None:
        self._waiting: dict[str, _Waiter] = {}
        self._early: OrderedDict[str, Wake] = OrderedDict()

    def waits_here(self, request_id: str) -> bool:
        return request_id in self._waiting

    def wake(self, request_id: str, wake: Wake) -> None:
        """Wake the follower of `request_id`, or remember the wake-up for when it waits."""
        waiter = self._waiting.get(request_id)
        if waiter is not None:
            waiter.wake = wake
            waiter.event.set()
            return
        self._early[request_id] = wake
        while len(self._early) > REMEMBERED_WAKES:
            self._early.popitem(last=False)

    def heard(self, message: str) -> None:
        """A wake-up passed on by NOTIFY (`publish_message`'s text), from any replica."""
        request_id, _, payload = message.partition("\n")
        if not request_id:
            return  # "" after the listening connection came back: nothing to wake
        try:
            video = _video_of(request_id, json.loads(payload)) if payload else None
        except ValueError:
            video = None
        self.wake(request_id, Wake(video))

    async def wait(self, request_id: str, seconds: float) -> Wake | None:
        """The webhook for `request_id` (come before or during the wait); None on timeout."""
        early = self._early.pop(request_id, None)
        if early is not None:
            return early
        waiter = self._waiting.setdefault(request_id, _Waiter())
        try:
            with anyio.move_on_after(seconds):
                await waiter.event.wait()
        finally:
            if self._waiting.get(request_id) is waiter:
                del self._waiting[request_id]
        return waiter.wake


def publish_message(request_id: str, payload: Any) -> str:
    """What NOTIFY carries for a wake-up: the request id, then the signed payload's JSON when the
    delivery held a video and it fits."""
    if payload is None:
        return request_id
    message = f"{request_id}\n{json.dumps(payload, separators=(',', ':'))}"
    return message if len(message.encode()) < NOTIFY_MAX_BYTES else request_id


def _video_of(request_id: str, payload: Any) -> VideoOutput | None:
    """The video in a delivery's payload; None when it holds none (the follower then reads it back)."""
    try:
        return video_output(request_id, payload)
    except JobFailed:
        return None


class WebhookFalProvider:
    """fal with completion webhooks: submits carry the webhook URL, `watch` waits to be woken.

    The video a verified webhook carried, or else the result read back at once (one request: no status
    stream, no polling), is kept for the job manager's `result` call that follows.
    """

    name = "fal"

    def __init__(
        self,
        inner: FalProvider,
        *,
        public_url: str,
        tokens: WebhookTokens,
        wakeups: Wakeups,
        safety_check_seconds: float = SAFETY_CHECK_SECONDS,
    ) -> None:
        self._inner = inner
        self._public_url = public_url.rstrip("/")
        self._tokens = tokens
        self._wakeups = wakeups
        self._safety_check = safety_check_seconds
        self._results: dict[str, VideoOutput | JobFailed] = {}

    async def submit(self, spec: JobSpec) -> list[Submission]:
        if len(spec.job_ids) != 1:  # a token names one job: without it, the job is followed by polling
            return await self._inner.submit(spec)
        url = f"{self._public_url}{WEBHOOK_PREFIX}{self._tokens.new(spec.job_ids[0])}"
        return await self._inner.submit(spec, webhook_url=url)

    async def status(self, submission: Submission) -> QueueState:
        return await self._inner.status(submission)

    async def watch(self, submission: Submission) -> AsyncIterator[QueueState]:
        last: QueueState | None = None
        while True:
            wake = await self._wakeups.wait(submission.request_id, self._safety_check)
            if wake is not None and wake.video is not None:  # signed by fal: no need to ask again
                self._results[submission.request_id] = wake.video
                yield Finished()
                return
            if wake is not None:
                finished = await self._read_back(submission)
                if finished is not None:
                    yield finished
                    return
                await anyio.sleep(FUTILE_WAKE_PAUSE)
                continue
            state = await self._inner.status(submission)  # no webhook yet: the fallback
            if state != last:
                last = state
                yield state
            if isinstance(state, Finished):
                return

    async def _read_back(self, submission: Submission) -> Finished | None:
        """Read the result with our key; None when fal says the job is not finished after all."""
        try:
            self._results[submission.request_id] = await self._inner.result(submission)
            return Finished()
        except JobFailed as exc:
            if exc.error_type is None:
                # fal answers "still in progress" like a failure without a type: ask its status.
                state = await self._inner.status(submission)
                if not isinstance(state, Finished):
                    log.warning("webhook for %s, but fal says it is not finished", submission.request_id)
                    return None
            if exc.error_type == "client_cancelled":
                return Finished(error=str(exc), error_type=exc.error_type, cancelled=True)
            self._results[submission.request_id] = exc
            return Finished(error=str(exc), error_type=exc.error_type)

    async def result(self, submission: Submission) -> VideoOutput:
        kept = self._results.pop(submission.request_id, None)
        if isinstance(kept, JobFailed):
            raise kept
        return kept if kept is not None else await self._inner.result(submission)

    async def cancel(self, submission: Submission) -> bool:
        return await self._inner.cancel(submission)

    async def upload(self, path: Path, content_type: str) -> str:
        return await self._inner.upload(path, content_type)


class WebhookInbox:
    """What the `/webhooks/fal/<token>` route needs: the token check, fal's signatures, the journal's
    word on which request a job made, and where to send wake-ups.

    Made with the server (routes exist before the lifespan runs); `request_of` and `publish_if_made`
    are set once the journal is open: PostgreSQL's NOTIFY reaches every replica, else the wake-up
    stays here.
    """

    def __init__(self, key: bytes, signatures: FalSignatures) -> None:
        self.tokens = WebhookTokens(key)
        self.signatures = signatures
        self.wakeups = Wakeups()
        self.request_of: Callable[[str], Awaitable[str | None]] | None = None
        # (job id, request id, NOTIFY text): sent to every replica only if that job made that request,
        # checked in the same statement; whether it did.
        self.publish_if_made: Callable[[str, str, str], Awaitable[bool]] | None = None

    async def receive(self, token: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """Check one delivery, in the order that costs a forger the least: token, signature, then the
        job's own request. Returns the HTTP status and a short reason (never what the journal holds)."""
        job_id = self.tokens.job_of(token)
        if job_id is None:
            return 404, "unknown webhook"
        try:
            signed_id = await self.signatures.verify(headers, body)
        except BadSignature as exc:
            log.warning("webhook refused: %s", exc)
            return 401, "signature not verified"
        try:
            delivery = json.loads(body)
            request_id = str(delivery["request_id"])
        except (ValueError, KeyError, TypeError):
            return 400, "expected JSON with a request_id"
        if request_id != signed_id:
            return 400, "the body's request id is not the signed one"
        if self.request_of is None:
            return 503, "starting"  # fal retries
        # Signed by fal, and (below) the token's job made this request: an OK delivery's payload is the
        # job's result.
        payload = delivery.get("payload") if delivery.get("status") == "OK" else None
        wake = Wake(_video_of(request_id, payload) if payload is not None else None)
        if self.wakeups.waits_here(request_id) or self.publish_if_made is None:
            # Its follower waits in this process (no round trip through PostgreSQL for the wake-up), or
            # there is no other process.
            if await self.request_of(job_id) != request_id:
                return _made_for_another_job()
            self.wakeups.wake(request_id, wake)
        else:
            # Every replica hears it, this one included (its follower may be about to wait).
            message = publish_message(request_id, payload if wake.video else None)
            if not await self.publish_if_made(job_id, request_id, message):
                return _made_for_another_job()
        return 200, "ok"


def _made_for_another_job() -> tuple[int, str]:
    log.warning("webhook refused: its token was made for another job")
    return 404, "unknown webhook"


def add_webhook_route(server: Any, inbox: WebhookInbox) -> None:
    """`POST /webhooks/fal/{token}` on the HTTP transport (an MCPServer custom route)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    @server.custom_route(WEBHOOK_PREFIX + "{token}", methods=["POST"])  # type: ignore[untyped-decorator]
    async def fal_webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "too large"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():  # counted as it comes: a lying or absent length too
            body += chunk
            if len(body) > MAX_WEBHOOK_BYTES:
                return JSONResponse({"error": "too large"}, status_code=413)
        status, reason = await inbox.receive(request.path_params["token"], request.headers, bytes(body))
        return JSONResponse({"ok": True} if status == 200 else {"error": reason}, status_code=status)
