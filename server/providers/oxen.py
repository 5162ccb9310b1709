"""The Oxen.ai provider: Seedance 2.0 through Oxen's inference queue (and its blocking endpoint).

Wire facts are in `shared/reference/oxen-api.md`. In short: enqueue with POST `/api/ai/queue`
(`num_generations` 1-4, one generation id each), poll GET `/api/ai/queue/{id}`, cancel with DELETE,
download `result_url` (the key goes only to the Oxen host). The blocking POST `/api/ai/videos/generate`
serves users who ask for `response_format`; it is sent by `watch`, so the tool call is never held.

Oxen's live schema has drifted from the documented one (integer duration, `adaptive` aspect ratio,
audio off by default). The adapter reads each model's `request_schema` from GET
`/api/ai/models/{model}` (cached per process) and translates the seeds' parameters into it, falling
back to the seeds' shape when the schema cannot be read. The same answer carries the model's pricing.

Local inputs need public URLs, because Oxen's servers fetch them: small images go as data URIs,
other files into the Oxen repository named by SEEDANCE_OXEN_UPLOAD_REPO, or to fal storage when a fal
key is set.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx

from seedance_mcp.server.errors import (
    ConfigError,
    JobFailed,
    ProviderError,
    ProviderHTTPError,
    SubmitUncertain,
)
from seedance_mcp.server.model_facts import Mode, Tier
from seedance_mcp.server.providers._http import (
    DEFAULT_POLICY,
    ProviderUnreachable,
    RetryPolicy,
    describe_transport_error,
    file_chunks,
    redact,
    send_reachable,
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

MODEL_PREFIX = "bytedance-seedance-2-0-"
KEY_HINT = "check OXEN_API_KEY (keys are in your Oxen.ai account settings)"
QUEUE_STATES = ("queued", "processing", "succeeded", "failed", "cancelled")

# Oxen suggests polling video jobs every 10-30 s. The first polls come sooner so a short job (and the
# move from queued to processing) is seen promptly; after that, the low end of Oxen's range.
POLL_FIRST = 0.5
POLL_MAX = 10.0
# Oxen documents "not recommended" for data URIs without a limit; a few MB keeps request bodies sane.
DATA_URI_MAX_BYTES = 4 * 1000 * 1000
# The blocking endpoint answers after 1-15 minutes.
SYNC_TIMEOUT = httpx.Timeout(30.0, read=16 * 60.0)
UPLOAD_FOLDER = "seedance-inputs"

# The documented error messages (seed) and what to do about each.
DOCUMENTED_FIXES: dict[str, str] = {
    "field required": "prompt is required: give a text prompt",
    "too many input files": "at most 12 reference files in all (9 images, 3 videos, 3 audio): remove some",
    "audio requires at least one image or video": "audio_urls needs at least one reference image or video: "
    "add one to image_urls or video_urls, or drop the audio",
    "invalid duration": 'duration must be "auto" or "4" through "15"',
    "invalid resolution": 'resolution must be "480p" or "720p"',
    "num_generations must be an integer between 1 and 4": "num_generations must be 1, 2, 3 or 4",
    "insufficient credits": "the Oxen.ai account is out of credits: add credits in your Oxen.ai billing "
    "settings, then try again",
}

# The seeds' request shape: used when a model's live schema cannot be read.
SEED_PROPERTIES: dict[str, Any] = {
    "model": {"type": "string"},
    "prompt": {"type": "string"},
    "input_images": {"type": "array"},
    "input_videos": {"type": "array"},
    "input_audios": {"type": "array"},
    "resolution": {"type": "string", "enum": ["480p", "720p"], "default": "720p"},
    "duration": {"type": "string", "enum": ["auto", *(str(s) for s in range(4, 16))], "default": "auto"},
    "generate_audio": {"type": "boolean", "default": True},
    "aspect_ratio": {
        "type": "string",
        "enum": ["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"],
        "default": "auto",
    },
    "seed": {"type": "integer"},
    "response_format": {"type": "string", "enum": ["url", "b64_json"]},
    "target_namespace": {"type": "string"},
}

# The seeds' parameter names -> Oxen's.
MEDIA_FIELDS = {"image_urls": "input_images", "video_urls": "input_videos", "audio_urls": "input_audios"}
OXEN_ONLY = ("response_format", "target_namespace")


def model_for(tier: Tier, mode: Mode) -> str:
    """Oxen's model name, e.g. `bytedance-seedance-2-0-fast-text-to-video`."""
    if mode not in ("text-to-video", "image-to-video", "reference-to-video"):
        raise ValueError(f"unknown mode {mode!r}")
    return f"{MODEL_PREFIX}{'fast-' if tier == 'fast' else ''}{mode}"


@dataclass(frozen=True)
class ModelInfo:
    """A model's request schema properties and pricing; `live` is False for the seeds' fallback."""

    name: str
    properties: dict[str, Any]
    pricing: dict[str, Any] | None
    live: bool


@dataclass(frozen=True)
class OxenPrice:
    """Per-second price of one generation from the model's pricing object."""

    usd_per_second: float
    source: str


def explain(message: str) -> str:
    """Oxen's message with the fix for the documented ones."""
    fix = DOCUMENTED_FIXES.get(message.strip().rstrip(".").lower())
    return f"{message} (fix: {fix})" if fix else message


def parse_error(response: httpx.Response) -> tuple[str | None, str]:
    """(type, message) from either of Oxen's error shapes, never raising."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text.strip()[:300] or f"HTTP {response.status_code}"
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        kind = err.get("type")
        text = err.get("detail") or err.get("message") or err.get("title")
        if not text and isinstance(body, dict):
            text = body.get("status_message")
        return (str(kind) if kind else None), str(text or kind or f"HTTP {response.status_code}")
    if isinstance(err, str):
        return None, err
    return None, json.dumps(body)[:300]


def parse_status(data: Any) -> QueueState:
    """One generation object as a neutral queue state."""
    if not isinstance(data, dict):
        raise ProviderError(f"Oxen.ai sent a status that is not an object: {str(data)[:200]}")
    status = data.get("status")
    if status == "queued":
        return Queued()
    if status == "processing":
        return Running()
    if status == "succeeded":
        return Finished()
    if status == "cancelled":
        return Finished(cancelled=True, error="cancelled")
    if status == "failed":
        message = str(data.get("error_message") or "the generation failed without a message")
        kind = "insufficient_credits" if "insufficient credits" in message.lower() else "failed"
        return Finished(error=explain(message), error_type=kind)
    raise ProviderError(
        f"Oxen.ai sent an unknown status {status!r}; expected one of {', '.join(QUEUE_STATES)}"
    )


def translate(spec: JobSpec, info: ModelInfo) -> dict[str, Any]:
    """The seeds' arguments as a request body for the model's schema."""
    props = info.properties
    args = spec.arguments
    body: dict[str, Any] = {"model": info.name, "prompt": args.get("prompt", "")}

    def allowed(name: str) -> bool:
        return name in props or not info.live

    for name in ("resolution", "seed", *OXEN_ONLY):
        if args.get(name) is not None and allowed(name):
            body[name] = args[name]
    if "generate_audio" in args:
        # Sent even at its default: the live schema's default (off) differs from the documented one (on).
        body["generate_audio"] = bool(args["generate_audio"])
    if "duration" in args:
        value = _duration(str(args["duration"]), props.get("duration") or SEED_PROPERTIES["duration"])
        if value is not None:
            body["duration"] = value
    if "aspect_ratio" in args:
        value = _aspect_ratio(str(args["aspect_ratio"]), props.get("aspect_ratio") or {})
        if value is not None:
            body["aspect_ratio"] = value
    if spec.mode == "image-to-video":
        frames = [args[k] for k in ("image_url", "end_image_url") if args.get(k)]
        if "input_images" in props or not info.live:
            body["input_images"] = frames
        elif "image_url" in props:
            body["image_url"] = frames[0]
            if len(frames) > 1:
                body["end_image_url"] = frames[1]
    for ours, theirs in MEDIA_FIELDS.items():
        if args.get(ours):
            body[theirs] = list(args[ours])
    dropped = sorted(
        set(args)
        - {"prompt", "duration", "aspect_ratio", "generate_audio", "image_url"}
        - {"end_image_url", *MEDIA_FIELDS}
        - set(body)
    )
    if dropped:
        logger.info("not sent to Oxen.ai (not in %s's schema): %s", info.name, ", ".join(dropped))
    return body


def _duration(value: str, prop: dict[str, Any]) -> int | str | None:
    enum = prop.get("enum") or []
    if prop.get("type") == "integer" or (enum and all(isinstance(e, int) for e in enum)):
        if value == "auto":
            # -1 means "the model decides" in the live schema; without it, leave the default.
            return -1 if -1 in enum or prop.get("default") == -1 else None
        return int(value)
    if enum and value not in enum and value == "auto":
        return None
    return value


def _aspect_ratio(value: str, prop: dict[str, Any]) -> str | None:
    enum = prop.get("enum")
    if not enum or value in enum:
        return value
    if value == "auto":
        return "adaptive" if "adaptive" in enum else None
    return value  # let Oxen name the problem


class OxenProvider:
    """Seedance 2.0 on Oxen.ai. Holds the model cache and the bodies of blocking requests in flight."""

    name = "oxen"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        key: str,
        base_url: str,
        upload_repo: str | None = None,
        fallback_upload: Callable[[Path, str], Awaitable[str]] | None = None,
        retry: RetryPolicy = DEFAULT_POLICY,
        poll_first: float = POLL_FIRST,
        poll_max: float = POLL_MAX,
        data_uri_max_bytes: int = DATA_URI_MAX_BYTES,
    ) -> None:
        self._client = client
        self._key = key
        self._base = base_url.rstrip("/")
        self._upload_repo = _parse_repo(upload_repo) if upload_repo else None
        self._fallback_upload = fallback_upload
        self._retry = retry
        self._poll_first = poll_first
        self._poll_max = poll_max
        self._data_uri_max = data_uri_max_bytes
        self._models: dict[str, ModelInfo] = {}
        self._model_lock = anyio.Lock()
        # Blocking requests: request id -> body before it is sent, then its outcome.
        self._sync_bodies: dict[str, dict[str, Any]] = {}
        self._sync_results: dict[str, VideoOutput | JobFailed] = {}
        # Wakes a watcher between polls (after a cancel), so the change is seen at once.
        self._pokes: dict[str, anyio.Event] = {}

    def __repr__(self) -> str:  # never show the key
        return f"OxenProvider(base_url={self._base!r})"

    def auth_headers_for(self, url: str) -> dict[str, str]:
        """The Bearer header for a URL on the Oxen host itself; nothing for any other host."""
        ours, theirs = urlsplit(self._base), urlsplit(url)
        same = (ours.scheme, ours.hostname, ours.port) == (theirs.scheme, theirs.hostname, theirs.port)
        return {"Authorization": f"Bearer {self._key}"} if same else {}

    # -- models --------------------------------------------------------------------------------------

    async def model_info(self, model: str) -> ModelInfo:
        """The model's live schema and pricing (cached), or the seeds' shape when it cannot be read."""
        async with self._model_lock:
            if model in self._models:
                return self._models[model]
            try:
                response = await self._send(
                    "GET", f"{self._base}/api/ai/models/{quote(model)}", "reading the model"
                )
            except ProviderUnreachable as exc:
                logger.warning("Oxen.ai model %s unreadable (%s); using the documented schema", model, exc)
                return ModelInfo(model, SEED_PROPERTIES, None, live=False)
            data = _json_or_none(response) if response.status_code == 200 else None
            if isinstance(data, dict) and isinstance(data.get("model"), dict):
                data = data["model"]
            schema = data.get("request_schema") if isinstance(data, dict) else None
            props = schema.get("properties") if isinstance(schema, dict) else None
            if not isinstance(data, dict) or not isinstance(props, dict):
                logger.warning(
                    "Oxen.ai model %s: no request schema (%d); using the documented schema",
                    model,
                    response.status_code,
                )
                return ModelInfo(model, SEED_PROPERTIES, None, live=False)
            pricing = data.get("pricing")
            info = ModelInfo(model, props, pricing if isinstance(pricing, dict) else None, live=True)
            self._models[model] = info
            return info

    async def price(
        self, tier: Tier, mode: Mode, *, resolution: str, generate_audio: bool
    ) -> OxenPrice | None:
        """Per-second price from the model's pricing object; None when Oxen gives none we understand."""
        info = await self.model_info(model_for(tier, mode))
        pricing = info.pricing or {}
        if pricing.get("method") != "per_video_output_second":
            return None
        rates = {k: v for k, v in pricing.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        candidates = [rates.get("cost_per_second")]
        if generate_audio:
            candidates.append(rates.get("cost_per_second_with_audio"))
        if resolution == "720p":
            candidates.append(rates.get("cost_per_second_high_res"))
        known = [float(c) for c in candidates if c is not None]
        if not known:
            return None
        # Oxen does not say how the surcharges combine: the highest that applies is the safe estimate.
        rate = max(known)
        return OxenPrice(rate, f"Oxen.ai pricing of {info.name}: ${rate:.4f} per output second")

    # -- queue ---------------------------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> list[Submission]:
        model = model_for(spec.tier, spec.mode)
        info = await self.model_info(model)
        body = translate(spec, info)
        if body.get("response_format"):
            if spec.count > 1:
                raise ProviderError("num_generations works only through Oxen's queue: drop response_format")
            request_id = f"sync-{uuid.uuid4()}"
            self._sync_bodies[request_id] = body
            return [
                Submission(
                    provider=self.name,
                    request_id=request_id,
                    endpoint=model,
                    response_url=f"{self._base}/api/ai/videos/generate",
                )
            ]
        body["num_generations"] = spec.count
        url = f"{self._base}/api/ai/queue"
        content = json.dumps(body).encode()
        response = await submit_once(
            self._client,
            lambda: self._client.build_request(
                "POST", url, content=content, headers=self._headers(json_body=True)
            ),
            policy=self._retry,
            provider="Oxen.ai",
            base=self._base,
            safe=self._safe,
            uncertain=lambda what: self._uncertain(model, what),
        )
        if response.status_code >= 400:
            raise self._http_error(response, action=f"enqueueing {model}", nothing_queued=True)
        data = _json_or_none(response)
        generations = data.get("generations") if isinstance(data, dict) else None
        ids = [
            str(g["generation_id"])
            for g in generations or []
            if isinstance(g, dict) and g.get("generation_id")
        ]
        if not ids:
            raise self._uncertain(model, "its answer had no generation ids")
        logger.info("Oxen.ai queued %s as %s", model, ", ".join(ids))
        return [
            Submission(
                provider=self.name,
                request_id=gid,
                endpoint=model,
                status_url=f"{self._base}/api/ai/queue/{gid}",
                cancel_url=f"{self._base}/api/ai/queue/{gid}",
            )
            for gid in ids
        ]

    async def status(self, submission: Submission) -> QueueState:
        if _is_sync(submission):
            outcome = self._sync_results.get(submission.request_id)
            if outcome is None:
                if submission.request_id in self._sync_bodies:
                    return Running()
                return Finished(error=_LOST_SYNC, error_type="lost")
            return Finished(error=str(outcome) if isinstance(outcome, JobFailed) else None)
        response = await self._send("GET", submission.status_url, "checking the generation's status")
        if response.status_code == 404:
            # Every generation we poll was enqueued by us: a 404 means Oxen has forgotten it.
            return Finished(error=_expired(submission.request_id), error_type="expired")
        if response.status_code != 200:
            raise self._http_error(response, action=f"checking generation {submission.request_id}")
        return parse_status(_json_or_none(response))

    async def watch(self, submission: Submission) -> AsyncIterator[QueueState]:
        if _is_sync(submission):
            async for state in self._watch_sync(submission):
                yield state
            return
        last: QueueState | None = None
        delay = self._poll_first
        while True:
            try:
                state = await self.status(submission)
            except (ProviderUnreachable, ProviderHTTPError) as exc:
                if isinstance(exc, ProviderHTTPError) and not exc.retryable:
                    raise
                logger.warning("status of %s unavailable (%s); still watching", submission.request_id, exc)
            else:
                if state != last:
                    last = state
                    yield state
                if isinstance(state, Finished):
                    return
            poke = self._pokes.setdefault(submission.request_id, anyio.Event())
            with anyio.move_on_after(delay):
                await poke.wait()
            if poke.is_set():
                self._pokes.pop(submission.request_id, None)
            delay = min(delay * 2, self._poll_max)

    async def _watch_sync(self, submission: Submission) -> AsyncIterator[QueueState]:
        body = self._sync_bodies.get(submission.request_id)
        if body is None:
            yield await self.status(submission)
            return
        yield Running(logs=(LogLine("Waiting for Oxen.ai's blocking generate call (1-15 minutes)"),))
        try:
            outcome = await self._generate_sync(submission, body)
        finally:
            self._sync_bodies.pop(submission.request_id, None)
        self._sync_results[submission.request_id] = outcome
        yield Finished(error=str(outcome) if isinstance(outcome, JobFailed) else None)

    async def _generate_sync(self, submission: Submission, body: dict[str, Any]) -> VideoOutput | JobFailed:
        content = json.dumps(body).encode()
        try:
            response = await self._client.post(
                submission.response_url,
                content=content,
                headers=self._headers(json_body=True),
                timeout=SYNC_TIMEOUT,
            )
        except httpx.TransportError as exc:
            return JobFailed(
                f"The blocking Oxen.ai request broke ({self._safe(describe_transport_error(exc))}); "
                "a video may still have been made and charged. Check your Oxen.ai account before retrying.",
                error_type="uncertain",
            )
        if response.status_code >= 400:
            kind, message = parse_error(response)
            return JobFailed(
                f"Oxen.ai refused the blocking generation ({response.status_code}"
                f"{', ' + kind if kind else ''}): {self._safe(explain(message))}",
                error_type=kind,
            )
        data = _json_or_none(response)
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

    async def result(self, submission: Submission) -> VideoOutput:
        if _is_sync(submission):
            outcome = self._sync_results.get(submission.request_id)
            if outcome is None:
                raise JobFailed(_LOST_SYNC, error_type="lost")
            if isinstance(outcome, JobFailed):
                raise outcome
            return outcome
        response = await self._send("GET", submission.status_url, "fetching the result")
        if response.status_code == 404:
            raise JobFailed(_expired(submission.request_id), error_type="expired")
        if response.status_code != 200:
            raise self._http_error(response, action=f"fetching generation {submission.request_id}")
        data = _json_or_none(response)
        state = parse_status(data)
        if isinstance(state, Finished) and state.error:
            raise JobFailed(
                f"Oxen.ai generation {submission.request_id} failed: {self._safe(state.error)}",
                error_type=state.error_type,
            )
        url = data.get("result_url") if isinstance(data, dict) else None
        if not isinstance(state, Finished) or not isinstance(url, str) or not url:
            raise JobFailed(
                f"Oxen.ai generation {submission.request_id} has no result URL yet; check its status again.",
                error_type="no_media",
            )
        return VideoOutput(url=url)

    async def cancel(self, submission: Submission) -> bool:
        if _is_sync(submission):
            return False  # a blocking request cannot be called back
        response = await self._send("DELETE", submission.cancel_url, "cancelling the generation")
        if response.is_success:
            if (poke := self._pokes.get(submission.request_id)) is not None:
                poke.set()
            return True
        if response.status_code == 404:
            return False
        raise self._http_error(response, action=f"cancelling generation {submission.request_id}")

    # -- inputs --------------------------------------------------------------------------------------

    async def upload(self, path: Path, content_type: str) -> str:
        size = (await anyio.Path(path).stat()).st_size
        if content_type.startswith("image/") and size <= self._data_uri_max:
            data = await anyio.Path(path).read_bytes()
            return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
        if self._upload_repo is not None:
            return await self._upload_to_repo(path, content_type, size)
        if self._fallback_upload is not None:
            return await self._fallback_upload(path, content_type)
        raise ConfigError(
            f"{path.name} must be reachable at a public URL for Oxen.ai to fetch it, and there is nowhere to "
            "upload it: set SEEDANCE_OXEN_UPLOAD_REPO to one of your public Oxen repositories "
            "(namespace/repo, optionally /branch), or set FAL_KEY to upload to fal.ai storage, "
            "or pass an https:// URL instead."
        )

    async def _upload_to_repo(self, path: Path, content_type: str, size: int) -> str:
        assert self._upload_repo is not None
        namespace, repo, branch = self._upload_repo
        remote = f"{UPLOAD_FOLDER}/{uuid.uuid4().hex[:12]}-{_safe_name(path.name)}"
        url = f"{self._base}/api/repos/{namespace}/{repo}/file/{branch}/{remote}"
        boundary = uuid.uuid4().hex
        fields = {
            "message": f"seedance-mcp input {path.name}",
            "name": "seedance-mcp",
            "email": "seedance-mcp@localhost",
        }
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        filename = _safe_name(path.name)
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        async def stream() -> AsyncIterator[bytes]:
            yield head
            async for chunk in file_chunks(path):
                yield chunk
            yield tail

        headers = {
            **self._headers(),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        response = await self._send_built(
            lambda: self._client.build_request("PUT", url, content=stream(), headers=headers),
            action=f"uploading {path.name}",
        )
        if not response.is_success:
            raise self._http_error(response, action=f"uploading {path.name} to {namespace}/{repo}")
        logger.info("uploaded %s to Oxen repository %s/%s", path.name, namespace, repo)
        return url

    # -- helpers -------------------------------------------------------------------------------------

    def _headers(self, *, json_body: bool = False) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._key}",
            "User-Agent": user_agent(),
            "Accept": "application/json",
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    async def _send(self, method: str, url: str, action: str) -> httpx.Response:
        return await self._send_built(
            lambda: self._client.build_request(method, url, headers=self._headers()), action=action
        )

    async def _send_built(self, make: Callable[[], httpx.Request], *, action: str) -> httpx.Response:
        return await send_reachable(
            self._client, make, policy=self._retry, provider="Oxen.ai", action=action, safe=self._safe
        )

    def _safe(self, text: str) -> str:
        return redact(text, [self._key])

    def _uncertain(self, model: str, what: str) -> SubmitUncertain:
        return SubmitUncertain(
            f"The request to Oxen.ai ({model}) may or may not have been received ({self._safe(what)}): "
            "generations may exist and be charged. Do not resubmit blindly; first look at your queue "
            "(GET /api/ai/queue) or your Oxen.ai account."
        )

    def _http_error(
        self, response: httpx.Response, *, action: str, nothing_queued: bool = False
    ) -> ProviderHTTPError:
        kind, message = parse_error(response)
        status = response.status_code
        detail = self._safe(explain(message))
        what = f"{status}, {kind}" if kind else str(status)
        if status == 401 or kind == "unauthenticated":
            text = f"Oxen.ai rejected the API key (401) while {action}: {KEY_HINT}."
        elif status == 404 and kind == "resource_not_found":
            text = f"Oxen.ai found nothing (404) while {action}: {detail}."
        elif status == 429:
            text = (
                f"Oxen.ai is rate-limiting this account (429) and refused {action}"
                f"{'; nothing was queued' if nothing_queued else ''}. Wait a minute, then try again."
            )
        elif status >= 500:
            text = f"Oxen.ai had a server error ({what}) while {action}: {detail}."
        else:
            text = f"Oxen.ai refused the request ({what}) while {action}: {detail}"
        return ProviderHTTPError(text, status=status, error_type=kind)


_LOST_SYNC = (
    "The blocking Oxen.ai request was lost when the server restarted; a video may have been made and "
    "charged. Check your Oxen.ai account before trying again."
)


def _expired(generation_id: str) -> str:
    return (
        f"Oxen.ai no longer knows generation {generation_id} (404): Oxen forgets generations about a day "
        "after they finish. If it had finished, its video was saved then; otherwise generate it again."
    )


def _is_sync(submission: Submission) -> bool:
    return submission.request_id.startswith("sync-")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._")
    return cleaned[:100] or "upload.bin"


def _parse_repo(text: str) -> tuple[str, str, str]:
    """`namespace/repo[/branch]` -> (namespace, repo, branch)."""
    parts = [p for p in text.strip().strip("/").split("/") if p]
    if len(parts) not in (2, 3) or not all(_safe_name(p) == p for p in parts):
        raise ConfigError(
            f"SEEDANCE_OXEN_UPLOAD_REPO must look like namespace/repo or namespace/repo/branch; got {text!r}"
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else "main"
