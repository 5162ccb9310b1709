"""The job manager: submit, follow, wait, cancel — over the durable journal.

A job's life is owned by the server, not by the tool call that started it:

    submit ─ journal the intent ─ provider.submit ─ journal the request id ─ follow (a task per job)
                                                                              │
    wait(job, timeout) ◄── change events ◄── provider.watch ◄─────────────────┘
                                                                              │
                                    Finished ─ result ─ deliver (download, preview) ─ journal

A tool call only *waits* on a job for a bounded time; when it returns, the follower goes on, and
`check_status` waits again. Every state the provider reports is written to the journal, so a new
process can pick up every unfinished job (`resume`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from seedance_mcp.server.errors import (
    JobFailed,
    JobNotFound,
    ProviderError,
    ProviderHTTPError,
    SeedanceError,
    SubmitUncertain,
)
from seedance_mcp.server.journal import TERMINAL, JobRecord, Journal, new_job_id
from seedance_mcp.server.providers._http import ProviderUnreachable
from seedance_mcp.server.providers.base import (
    Finished,
    JobSpec,
    Provider,
    Queued,
    QueueState,
    Running,
    Submission,
    VideoOutput,
)

log = logging.getLogger(__name__)

# An identical call inside this window returns the job already made instead of paying twice:
# long enough to cover a host that re-sends a tool call after a dropped stream, short enough that
# "make it again" later does make it again. A different seed always makes a new job.
DEDUPE_WINDOW_SECONDS = 600.0
# How often a waiting call hears "Generating, 35 s" when the provider is silent.
HEARTBEAT_SECONDS = 1.0
MAX_LOG_LINES = 50
# When the provider stays unreachable past its own request retries (~30 s), the follower tries again
# after this pause, doubling up to the cap: soon enough for a blip, cheap during an outage.
FOLLOW_RETRY_FIRST = 2.0
FOLLOW_RETRY_MAX = 60.0
# States in which nothing more will happen by itself: waiting on them is pointless.
SETTLED = TERMINAL | {"uncertain"}

ProgressSink = Callable[[float, float, str], Awaitable[None]]


class Deliverer(Protocol):
    """Turns a finished provider output into a saved file; fills `video_path` & co. on the record."""

    async def __call__(self, job: JobRecord, output: VideoOutput) -> dict[str, Any]: ...


@dataclass
class _Live:
    """What the followers know beyond the journal: the wake-up event and phase timing."""

    changed: anyio.Event = field(default_factory=anyio.Event)
    phase: str = "queued"
    phase_started: float = field(default_factory=time.monotonic)
    message: str = ""
    submission: Submission | None = None

    def notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()


def fingerprint(tool: str, provider: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps({"tool": tool, "provider": provider, "arguments": arguments}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class JobManager:
    def __init__(
        self,
        *,
        provider: Provider,
        journal: Journal,
        task_group: TaskGroup,
        deliver: Deliverer,
        simulated: bool,
        follow_retry: tuple[float, float] = (FOLLOW_RETRY_FIRST, FOLLOW_RETRY_MAX),
    ) -> None:
        self.provider = provider
        self.journal = journal
        self.simulated = simulated
        self._tg = task_group
        self._deliver = deliver
        self._live: dict[str, _Live] = {}
        # One lock per fingerprint being submitted: identical calls arriving together (a host re-sending
        # a call whose answer it lost) must see each other's journal row, not both pay.
        self._claims: dict[str, anyio.Lock] = {}
        self._follow_retry = follow_retry

    @property
    def provider_label(self) -> str:
        """What the journal calls this run's provider: "simulator" when the embedded simulator serves it."""
        return "simulator" if self.simulated else self.provider.name

    # --- starting jobs -------------------------------------------------------------------------

    async def find_duplicate(self, tool: str, arguments: dict[str, Any]) -> JobRecord | None:
        key = fingerprint(tool, self.provider.name, arguments)
        return await self.journal.find_duplicate(key, since=time.time() - DEDUPE_WINDOW_SECONDS)

    async def submit(
        self,
        *,
        tool: str,
        spec: JobSpec,
        dedupe_arguments: dict[str, Any],
        estimate: dict[str, Any],
        estimate_usd: float,
    ) -> list[JobRecord]:
        """Record the intent, submit once, record the request id, start following. Never submits twice.

        If an identical call (same fingerprint) was journaled inside the dedupe window meanwhile,
        returns that call's jobs instead of submitting.
        """
        key = fingerprint(tool, self.provider.name, dedupe_arguments)
        lock = self._claims.setdefault(key, anyio.Lock())
        try:
            async with lock:
                duplicate = await self.journal.find_duplicate(key, since=time.time() - DEDUPE_WINDOW_SECONDS)
                if duplicate is None:
                    intents = await self._journal_intents(tool, spec, key, estimate, estimate_usd)
        finally:
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._claims.pop(key, None)
        if duplicate is not None:
            log.info("job %s: identical call while submitting; not submitting again", duplicate.id)
            return await self.group_of(duplicate)
        return await self._submit_intents(spec, intents)

    async def _journal_intents(
        self, tool: str, spec: JobSpec, key: str, estimate: dict[str, Any], estimate_usd: float
    ) -> list[JobRecord]:
        now = time.time()
        group_id = new_job_id() if spec.count > 1 else None
        intents = [
            JobRecord(
                id=new_job_id(),
                created_at=now,
                updated_at=now,
                provider=self.provider_label,
                simulated=self.simulated,
                tool=tool,
                tier=spec.tier,
                mode=spec.mode,
                endpoint="",
                arguments=spec.arguments,
                estimate=estimate,
                estimate_usd=estimate_usd,
                state="submitting",
                submission=None,
                request_id=None,
                queue_position=None,
                logs=[],
                result_url=None,
                seed=None,
                video_path=None,
                video_sha256=None,
                video_bytes=None,
                error=None,
                error_type=None,
                dedupe_key=key,
                group_id=group_id,
                finished_at=None,
                history=[],
            )
            for _ in range(spec.count)
        ]
        for intent in intents:
            await self.journal.create(intent)
            # A waiter (an identical call) can wait on the intent until the request id arrives.
            self._live[intent.id] = _Live()
        return intents

    async def group_of(self, record: JobRecord) -> list[JobRecord]:
        """Every job made by the same request as `record`, in submit order (itself alone if alone)."""
        if record.group_id is None:
            return [record]
        nearby = await self.journal.list(since=record.created_at - 1, limit=100)
        return list(reversed([r for r in nearby if r.group_id == record.group_id])) or [record]

    async def _submit_intents(self, spec: JobSpec, intents: list[JobRecord]) -> list[JobRecord]:
        try:
            return await self._submit_and_record(spec, intents)
        except BaseException:
            # No follower will come for these: let waiters see the journaled outcome now.
            for intent in intents:
                live = self._live.pop(intent.id, None)
                if live is not None:
                    live.notify()
            raise

    async def _submit_and_record(self, spec: JobSpec, intents: list[JobRecord]) -> list[JobRecord]:
        try:
            submissions = await self.provider.submit(spec)
        except SubmitUncertain as exc:
            for intent in intents:
                await self.journal.update(intent.id, state="uncertain", note=str(exc), error=str(exc))
            raise SubmitUncertain(
                f"{exc} Recorded as job {intents[0].id} (state 'uncertain'); check your provider dashboard "
                "before trying again."
            ) from exc
        except SeedanceError as exc:
            for intent in intents:
                await self.journal.update(intent.id, state="failed", note="submit refused", error=str(exc))
            raise
        except BaseException:
            # Anything unexpected after the request may have left: keep the row honest.
            with anyio.CancelScope(shield=True):
                for intent in intents:
                    await self.journal.update(
                        intent.id, state="uncertain", note="submit interrupted", error="submit interrupted"
                    )
            raise
        records = []
        for intent, submission in zip(intents, submissions, strict=False):
            record = await self.journal.update(
                intent.id,
                state="queued",
                note=f"request {submission.request_id}",
                submission=submission.to_json(),
                request_id=submission.request_id,
                endpoint=submission.endpoint,
            )
            records.append(record)
            self._follow(record.id, submission)
            self._live[record.id].notify()
        return records

    async def resume(self) -> int:
        """Follow again every job a previous process left unfinished. Returns how many."""
        resumed = 0
        for record in await self.journal.unfinished():
            if record.simulated:
                # A simulator lives only as long as the server that embedded it.
                await self.journal.update(
                    record.id,
                    state="failed",
                    note="simulator gone",
                    error="Lost when the server restarted: simulated jobs do not survive a restart.",
                )
            elif record.provider != self.provider_label and record.submission:
                # Another provider's job (a paid fal job, and this run has no key): following it here would
                # send the wrong key to its URLs and fail it. Leave it for a run that has its provider.
                log.warning(
                    "job %s belongs to %s, but this server runs %s: not following it",
                    record.id,
                    record.provider,
                    self.provider_label,
                )
            elif record.submission:
                self._follow(record.id, Submission.from_json(record.submission))
                resumed += 1
            elif record.state == "submitting":
                await self.journal.update(
                    record.id,
                    state="uncertain",
                    note="server stopped while submitting",
                    error=(
                        "The server stopped while this job was being submitted, so it may or may not exist "
                        "at the provider. Check the provider's dashboard before submitting it again."
                    ),
                )
        return resumed

    # --- following ------------------------------------------------------------------------------

    def _follow(self, job_id: str, submission: Submission) -> None:
        live = self._live.setdefault(job_id, _Live())
        live.submission = submission
        self._tg.start_soon(self._run_follower, job_id, submission, name=f"follow {job_id}")

    async def _run_follower(self, job_id: str, submission: Submission) -> None:
        live = self._live[job_id]
        pause, max_pause = self._follow_retry
        try:
            while True:
                try:
                    async for state in self.provider.watch(submission):
                        await self._on_state(job_id, live, state)
                        if isinstance(state, Finished):
                            await self._finish(job_id, submission, state)
                            return
                    return
                except (ProviderUnreachable, ProviderHTTPError) as exc:
                    # The provider's own retries ran out, but the job is still there: a paid job is not
                    # marked failed for an outage. Follow again later; a real refusal (401, 404) ends it.
                    if isinstance(exc, ProviderHTTPError) and not exc.retryable:
                        raise
                    log.warning(
                        "job %s: provider unavailable (%s); following again in %.0f s", job_id, exc, pause
                    )
                    live.message = "Provider unavailable; still following"
                    live.notify()
                    await anyio.sleep(pause)
                    pause = min(pause * 2, max_pause)
        except SeedanceError as exc:
            log.warning("job %s: following failed: %s", job_id, exc)
            await self.journal.update(job_id, state="failed", note="follow failed", error=str(exc))
        except Exception:
            log.exception("job %s: follower crashed", job_id)
            await self.journal.update(
                job_id,
                state="failed",
                note="follower crashed",
                error="internal error while following the job",
            )
        finally:
            live.notify()

    async def _on_state(self, job_id: str, live: _Live, state: QueueState) -> None:
        if isinstance(state, Queued):
            live.message = f"Queued, position {state.position}" if state.position is not None else "Queued"
            await self.journal.update(job_id, state="queued", queue_position=state.position)
        elif isinstance(state, Running):
            if live.phase != "running":
                live.phase, live.phase_started = "running", time.monotonic()
            record = await self.journal.get(job_id)
            logs = list(record.logs) if record else []
            new = [line.message for line in state.logs]
            # Providers resend the whole log on every status: keep only what is new.
            fresh = new[len(logs) :] if new[: len(logs)] == logs else new
            if fresh:
                live.message = fresh[-1]
            await self.journal.update(
                job_id, state="running", queue_position=None, logs=(logs + fresh)[-MAX_LOG_LINES:]
            )
        live.notify()

    async def _finish(self, job_id: str, submission: Submission, state: Finished) -> None:
        if state.cancelled:
            await self.journal.update(job_id, state="cancelled", finished_at=time.time(), error=state.error)
            return
        try:
            output = await self.provider.result(submission)
        except JobFailed as exc:
            await self.journal.update(
                job_id, state="failed", finished_at=time.time(), error=str(exc), error_type=exc.error_type
            )
            return
        record = await self.journal.update(
            job_id, result_url=output.url or None, seed=output.seed, note="result"
        )
        self._live[job_id].message = "Saving the video"
        self._live[job_id].notify()
        delivered: dict[str, Any] = {}
        try:
            delivered = await self._deliver(record, output)
        except SeedanceError as exc:
            # The video exists at the provider; a failed download must not lose the URL.
            log.warning("job %s: saving the video failed: %s", job_id, exc)
            delivered = {"error": f"The video is ready at its URL but saving it failed: {exc}"}
        await self.journal.update(job_id, state="completed", finished_at=time.time(), **delivered)

    # --- waiting --------------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobRecord:
        record = await self.journal.get(job_id)
        if record is None:
            raise JobNotFound(
                f"No job with id {job_id!r}. Call list_jobs to see recent jobs; ids look like 'sd_…'."
            )
        return record

    async def wait(self, job_id: str, seconds: float, progress: ProgressSink | None = None) -> JobRecord:
        """Wait up to `seconds` for the job to end, reporting progress; return its record."""
        record = await self.get(job_id)
        live = self._live.get(job_id)
        if record.state in SETTLED or live is None:
            return record
        reporter = _ProgressReporter(progress)
        deadline = time.monotonic() + seconds
        while True:
            await reporter.report(record, live)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return record
            changed = live.changed
            with anyio.move_on_after(min(remaining, HEARTBEAT_SECONDS)):
                await changed.wait()
            record = await self.get(job_id)
            if record.state in SETTLED:
                await reporter.report(record, live)
                return record

    async def cancel(self, job_id: str) -> tuple[JobRecord, bool]:
        """Ask the provider to cancel; returns the record and whether the provider accepted."""
        record = await self.get(job_id)
        if record.state in TERMINAL or not record.submission:
            return record, False
        if record.provider != self.provider_label:
            raise ProviderError(
                f"Job {job_id} was made on {record.provider}, but this server now runs "
                f"{self.provider_label}: restart it with the {record.provider} key set to cancel the job, or "
                "cancel it on the "
                "provider's dashboard."
            )
        accepted = await self.provider.cancel(Submission.from_json(record.submission))
        note = "cancel requested" if accepted else "cancel refused"
        return await self.journal.update(job_id, note=note), accepted

    async def cancel_if_queued(self, job_id: str) -> None:
        """For a tool call the host cancelled: drop the job only if it has not started (nothing spent)."""
        record = await self.journal.get(job_id)
        if record is None or record.state != "queued" or not record.submission:
            return
        try:
            await self.cancel(job_id)
        except ProviderError as exc:
            log.warning("job %s: cancel after the host cancelled the call failed: %s", job_id, exc)


class _ProgressReporter:
    """Turns job states into strictly increasing progress notifications for one tool call."""

    TOTAL = 100.0

    def __init__(self, sink: ProgressSink | None) -> None:
        self._sink = sink
        self._last_value = 0.0
        self._last_message = ""
        self._started = time.monotonic()

    async def report(self, record: JobRecord, live: _Live) -> None:
        if self._sink is None:
            return
        phase_elapsed = time.monotonic() - live.phase_started
        if record.state in TERMINAL:
            value, message = self.TOTAL, f"{record.state.capitalize()}"
        elif record.state == "running":
            # No provider reports a percentage: an asymptote over a typical 90 s render.
            value = 10 + 85 * (1 - math.exp(-phase_elapsed / 90))
            message = f"Generating, {phase_elapsed:.0f} s"
            if live.message and not live.message.startswith("Queued"):
                message += f": {live.message}"
        else:
            value = 10 * (1 - math.exp(-(time.monotonic() - self._started) / 30))
            position = record.queue_position
            message = f"Queued, position {position}" if position is not None else "Queued"
        value = round(max(value, self._last_value + 0.01), 2)
        if value >= self.TOTAL and record.state not in TERMINAL:
            value = self._last_value  # only the end reaches the total
        if value <= self._last_value:
            return
        self._last_value, self._last_message = value, message
        await self._sink(value, self.TOTAL, message)
