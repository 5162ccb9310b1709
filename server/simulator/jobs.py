"""The protocol-neutral job engine: a job's state over time, its renders, logs, faults and cancels.

A job's state is a function of the clock: IN_QUEUE for `queue_seconds`, then running for
`run_seconds` (longer if its render is not ready yet), then done. The protocol modules (fal,
Oxen) turn a `JobView` into their own wire shapes; nothing here knows a URL layout except
the `/files/...` paths of the file store. Input checks live in `validation`, the request log in
`request_log`, the records kept on disk in `saved_jobs`.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import hashlib
import json
import logging
import math
import random
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .descriptions import Descriptions, Mode, OutputSizes
from .faults import FaultPlan
from .options import SimulatorOptions
from .render import Renderer, RenderSpec
from .request_log import RequestLog
from .saved_jobs import SavedJobs
from .storage import FileStore, StoredFile
from .validation import INFRA_ERRORS, Failure, failure_for, media_urls

logger = logging.getLogger(__name__)

Phase = Literal["queued", "running", "done"]

# What "auto" becomes when the simulator must pick a number (a real model decides from the prompt).
AUTO_SECONDS = 5
AUTO_ASPECT_RATIO = "16:9"
QUEUE_DEPTH = 3  # positions a job passes through while queued: 2, 1, 0
FAILING_RUN_SECONDS = 0.5  # a job whose input is rejected fails fast, like fal's model does


@dataclass(frozen=True)
class LogEntry:
    message: str
    level: str
    timestamp: str

    def to_json(self) -> dict[str, str]:
        return {"message": self.message, "level": self.level, "source": "USER", "timestamp": self.timestamp}


@dataclass(frozen=True)
class JobView:
    """A job at one instant."""

    phase: Phase
    position: int | None
    logs: tuple[LogEntry, ...]
    failure: Failure | None = None
    video: StoredFile | None = None
    inference_time: float | None = None
    completed_at: float | None = None


@dataclass
class Job:
    id: str
    endpoint: str
    mode: Mode
    input: dict[str, Any]
    created: float
    queue_seconds: float
    run_seconds: float
    seed: int
    spec: RenderSpec | None
    failure: Failure | None
    render: concurrent.futures.Future[Path] | None = None
    cancelled_at: float | None = None
    cancel_requested_at: float | None = None
    render_ready_at: float | None = None
    video: StoredFile | None = None
    draft_id: str | None = None  # set for a draft take, which a later job may finish
    draft_expires: float | None = None  # until when the draft can be finished
    script: list[tuple[float, str, str]] = field(default_factory=list)  # (fraction of run, level, message)

    @property
    def started(self) -> float:
        return self.created + self.queue_seconds

    @property
    def run_end(self) -> float:
        return self.started + self.run_seconds


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


class Engine:
    """Jobs, files, renders, faults and the request log of one simulator instance.

    With a `state_dir`, every job is also written there (one small JSON file each) and read back on
    demand, so the embedded simulator of a restarted server, or of a second server process on the
    same SEEDANCE_HOME, answers for jobs an earlier one accepted. A job's state is a function of the
    clock, so its record is all that needs to survive; the video is rendered again when asked for.
    """

    def __init__(
        self, options: SimulatorOptions, root: Path | None = None, state_dir: Path | None = None
    ) -> None:
        self.options = options
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="seedance-sim-")) if root is None else root
        if self._own_root:  # removed even if close() is never called (e.g. a daemon thread at exit)
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.root, True)
        self.log = RequestLog()
        self.store = FileStore(self.root / "files")
        self.renderer = Renderer(self.root / "renders")
        self.faults = FaultPlan(options.fault_mix, options.seed)
        self._seeds = random.Random(options.seed)  # separate from faults: result seeds never shift faults
        self._jobs: dict[str, Job] = {}
        self._saved = SavedJobs(state_dir) if state_dir is not None else None
        self.closing = threading.Event()
        # Signs this simulator's webhooks as fal signs its own (served at /.well-known/jwks.json).
        self.webhook_key = Ed25519PrivateKey.generate()
        self.webhook_deliveries: list[dict[str, Any]] = []  # see simulator.webhooks
        # Test hook (`PUT /_simulator/hold`): no job ends before this moment, so benchmarks can have
        # every job end in the same instant however long submitting them took.
        self.hold_until: float | None = None
        self.descriptions = Descriptions()  # what each endpoint accepts and costs; tests may patch it

    # --- jobs ---------------------------------------------------------------------------------
    def submit(
        self,
        endpoint: str,
        mode: Mode,
        args: dict[str, Any],
        base_url: str,
        *,
        issues: list[dict[str, Any]],
        sizes: OutputSizes,
        defaults: dict[str, Any] | None = None,
        failure: Failure | None = None,
        draft: tuple[str, float] | None = None,
    ) -> Job:
        """Accept a job the way fal does: bad input is accepted here and fails when the job runs.

        `issues` are the protocol's validation issues for `args`; `sizes` the endpoint's output sizes;
        `defaults` what the endpoint assumes for fields left out; `failure` a reason found elsewhere
        (e.g. an unknown draft); `draft` = (resolution, seconds it can be finished for) makes the job a
        draft rendered at that resolution (fewer seconds when `SimulatorOptions.draft_seconds` says so).
        """
        now = time.time()
        failure = failure or failure_for(issues, args, base_url, self.store)
        seed = args.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            seed = self._seeds.randrange(1, 2**31)
        spec = None
        if failure is None:
            shaped = {**(defaults or {}), **args}
            if draft is not None:
                shaped["resolution"] = draft[0]
            try:
                spec = self._spec(mode, shaped, base_url, sizes)
            except KeyError as missing:  # a value the description allows but gives no output size for
                status, message = INFRA_ERRORS["runner_server_error"]
                failure = Failure(status, "runner_server_error", f"{message}: no size for {missing}", message)
        run_seconds = self.options.run_seconds
        if failure is not None and failure.status == 422:
            run_seconds = min(run_seconds, FAILING_RUN_SECONDS)
        job_id = str(uuid.uuid4())
        job = Job(
            id=job_id,
            endpoint=endpoint,
            mode=mode,
            input=args,
            created=now,
            queue_seconds=self.options.queue_seconds,
            run_seconds=run_seconds,
            seed=seed,
            spec=spec,
            failure=failure,
        )
        if draft is not None and failure is None:
            job.draft_id = f"draft_{job_id}"
            job.draft_expires = now + min(draft[1], self.options.draft_seconds)
        self._start(job)
        self._jobs[job.id] = job
        self._save(job)
        return job

    def draft(self, draft_id: str) -> Job | None:
        """The draft job behind `draft_id`, if this simulator made it."""
        job = self.get(draft_id.removeprefix("draft_")) if draft_id.startswith("draft_") else None
        return job if job is not None and job.draft_id == draft_id else None

    def get(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None and self._saved is not None:
            job = self._load(job_id)
        return job

    def _start(self, job: Job) -> None:
        job.script = _script(job, job.input)
        if job.spec is not None:
            # Render from submit on, so the file is ready by the time the job completes.
            job.render = self.renderer.render(job.spec)
            job.render.add_done_callback(partial(_mark_ready, job))

    def _save(self, job: Job) -> None:
        if self._saved is None:
            return
        failure, spec = job.failure, job.spec
        failed = (
            None if failure is None else [failure.status, failure.error_type, failure.message, failure.detail]
        )
        state = {
            "id": job.id,
            "endpoint": job.endpoint,
            "mode": job.mode,
            "input": job.input,
            "created": job.created,
            "queue_seconds": job.queue_seconds,
            "run_seconds": job.run_seconds,
            "seed": job.seed,
            "failure": failed,
            "cancelled_at": job.cancelled_at,
            "cancel_requested_at": job.cancel_requested_at,
            "render": None if spec is None else [spec.width, spec.height, spec.seconds, spec.audio],
            "draft": None if job.draft_id is None else [job.draft_id, job.draft_expires],
        }
        self._saved.write(job.id, state)

    def _load(self, job_id: str) -> Job | None:
        state = self._saved.read(job_id) if self._saved is not None else None
        if state is None:
            return None
        failure = None if state["failure"] is None else Failure(*state["failure"])
        render = state.get("render")
        spec = None
        if failure is None and render is not None:
            # The origin the frames were uploaded to is gone with the old process: render without them.
            width, height, seconds, audio = render
            spec = RenderSpec(str(state["input"].get("prompt", "")), width, height, seconds, audio)
        elif failure is None:  # kept by a simulator that did not record its render
            status, message = INFRA_ERRORS["runner_server_error"]
            failure = Failure(status, "runner_server_error", message, message)
        job = Job(
            id=state["id"],
            endpoint=state["endpoint"],
            mode=state["mode"],
            input=state["input"],
            created=state["created"],
            queue_seconds=state["queue_seconds"],
            run_seconds=state["run_seconds"],
            seed=state["seed"],
            spec=spec,
            failure=failure,
            cancelled_at=state["cancelled_at"],
            cancel_requested_at=state["cancel_requested_at"],
        )
        if state.get("draft"):
            job.draft_id, job.draft_expires = state["draft"]
        self._start(job)
        return self._jobs.setdefault(job.id, job)

    def view(self, job: Job, now: float | None = None) -> JobView:
        now = time.time() if now is None else now
        if job.cancelled_at is not None:
            message = INFRA_ERRORS["client_cancelled"][1]
            cancelled = Failure(499, "client_cancelled", message, message)
            return JobView("done", None, (), failure=cancelled, completed_at=job.cancelled_at)
        if now < job.started:
            left = (job.started - now) / job.queue_seconds if job.queue_seconds else 0.0
            return JobView("queued", min(QUEUE_DEPTH - 1, math.floor(left * QUEUE_DEPTH)), ())

        end = job.run_end if self.hold_until is None else max(job.run_end, self.hold_until)
        failure = job.failure
        if failure is None and job.render is not None:
            if not job.render.done() or job.render_ready_at is None:
                return JobView("running", None, self._logs(job, now, end=None))
            end = max(end, job.render_ready_at)
            error = job.render.exception()
            if error is not None:
                logger.warning("simulated render failed: %s", error)
                status, message = INFRA_ERRORS["runner_server_error"]
                failure = Failure(status, "runner_server_error", message, message)
        if now < end:
            return JobView("running", None, self._logs(job, now, end=None))

        logs = self._logs(job, now, end=end)
        if failure is not None:
            logs = (*logs, LogEntry(f"Request failed: {failure.message}", "ERROR", _iso(end)))
            return JobView(
                "done", None, logs, failure=failure, inference_time=end - job.started, completed_at=end
            )
        return JobView(
            "done", None, logs, video=self._video(job), inference_time=end - job.started, completed_at=end
        )

    def next_change(self, job: Job, now: float) -> float | None:
        """The next moment the job's view is scheduled to change (None: it depends on its render)."""
        if job.cancelled_at is not None:
            return None
        step = job.queue_seconds / QUEUE_DEPTH
        moments = [job.created + k * step for k in range(1, QUEUE_DEPTH)]
        moments += [job.started + fraction * job.run_seconds for fraction, _, _ in job.script]
        moments += [job.started, job.run_end]
        if job.render_ready_at is not None:
            moments.append(job.render_ready_at)
        if self.hold_until is not None:
            moments.append(self.hold_until)
        future = [t for t in moments if t > now]
        return min(future) if future else None

    def cancel(self, job: Job) -> Literal["cancelled", "requested", "already_completed"]:
        """Queued jobs are removed; running ones are told but finish anyway (fal's runners may ignore it)."""
        now = time.time()
        phase = self.view(job, now).phase
        if phase == "done":
            return "already_completed"
        if phase == "queued":
            job.cancelled_at = now
            self._save(job)
            return "cancelled"
        job.cancel_requested_at = job.cancel_requested_at or now
        self._save(job)
        return "requested"

    def close(self) -> None:
        self.closing.set()
        self.renderer.close()
        if self._own_root:
            self._cleanup()

    # --- internals ----------------------------------------------------------------------------

    def _spec(self, mode: Mode, args: dict[str, Any], base_url: str, sizes: OutputSizes) -> RenderSpec:
        start = end = None
        if mode == "image-to-video":
            start = self._local_frame(args.get("image_url"), base_url)
            end = self._local_frame(args.get("end_image_url"), base_url)
        by_ratio = sizes[args.get("resolution", "720p")]
        aspect = args.get("aspect_ratio", "auto")
        if aspect == "auto":  # like the model: the start frame's shape, else the default
            aspect = _nearest_aspect(start, tuple(by_ratio)) if start is not None else AUTO_ASPECT_RATIO
        width, height = by_ratio[aspect]
        duration = args.get("duration", "auto")
        seconds = AUTO_SECONDS if duration == "auto" else int(duration)
        audio = bool(args.get("generate_audio", True))
        return RenderSpec(str(args["prompt"]), width, height, seconds, audio, start, end)

    def _local_frame(self, url: Any, base_url: str) -> Path | None:
        """A local copy of an input image: a file in our own storage, or a data: URI written out once.

        Other URLs are not fetched (the simulator stays offline); such a video starts on its usual picture.
        """
        if not isinstance(url, str):
            return None
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            try:
                data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else b""
            except binascii.Error:
                return None
            if not data:
                return None
            path = self.root / "frames" / hashlib.sha256(data).hexdigest()
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            return path
        stored = self.store.find_url(url, base_url)
        return stored.path if stored is not None else None

    def _logs(self, job: Job, now: float, end: float | None) -> tuple[LogEntry, ...]:
        out: list[LogEntry] = []
        for fraction, level, message in job.script:
            at = job.started + fraction * job.run_seconds
            if at <= now:
                out.append(LogEntry(message, level, _iso(at)))
        if job.cancel_requested_at is not None and job.cancel_requested_at <= now:
            out.append(
                LogEntry(
                    "Cancellation requested; finishing the current generation",
                    "WARN",
                    _iso(job.cancel_requested_at),
                )
            )
            out.sort(key=lambda e: e.timestamp)
        if end is not None and job.failure is None:
            out.append(LogEntry(f"Done in {end - job.started:.1f} s", "INFO", _iso(end)))
        return tuple(out)

    def _video(self, job: Job) -> StoredFile:
        if job.video is None:
            assert job.render is not None
            job.video = self.store.register(
                job.render.result(), f"seedance-simulated-{job.id}.mp4", "video/mp4", file_id=job.id
            )
        return job.video


def _nearest_aspect(image: Path, ratios: tuple[str, ...]) -> str:
    """The aspect ratio of `ratios` closest to the image's own shape (16:9 if it cannot be read)."""
    from PIL import Image

    try:
        with Image.open(image) as opened:
            width, height = opened.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return AUTO_ASPECT_RATIO
    return min(ratios, key=lambda a: abs(math.log(width / height / _ratio(a))))


def _ratio(aspect: str) -> float:
    w, h = aspect.split(":")
    return int(w) / int(h)


def _mark_ready(job: Job, _future: concurrent.futures.Future[Path]) -> None:
    job.render_ready_at = time.time()


def _script(job: Job, args: dict[str, Any]) -> list[tuple[float, str, str]]:
    """The log lines a run prints, each at a fraction of the run time."""
    lines: list[tuple[float, str, str]] = [
        (0.0, "INFO", f"Runner picked up the request (simulated {job.endpoint})")
    ]
    if job.failure is not None and job.failure.status == 422:
        lines.append((0.5, "INFO", "Validating input"))
        return lines
    spec = job.spec
    if spec is not None:
        audio = "on" if spec.audio else "off"
        size = f"{spec.width}x{spec.height}, {spec.seconds} s at {spec.fps} fps"
        lines.append((0.05, "INFO", f"Output {size}, audio {audio}, seed {job.seed}"))
    media = len(media_urls(args))
    if media:
        lines.append((0.1, "INFO", f"Downloaded {media} input file(s)"))
    prompt_tokens = len(json.dumps(args.get("prompt", "")).split())
    lines.append((0.15, "INFO", f"Encoded prompt ({prompt_tokens} words)"))
    for step, fraction in ((10, 0.3), (20, 0.45), (30, 0.6), (40, 0.75)):
        lines.append((fraction, "INFO", f"Denoising step {step}/40"))
    if spec is not None and spec.audio:
        lines.append((0.85, "INFO", "Generating synchronized audio"))
    lines.append((0.95, "INFO", "Encoding MP4 and uploading the result"))
    return lines
