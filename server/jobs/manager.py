"""The job manager: submit, follow, wait, cancel — over the durable journal, shared by processes.

A job's life is owned by the server, not by the tool call that started it:

    claim (journal: one job per identical call, atomically) ─ provider.submit ─ journal the request id
        ─ follow while holding the job's lease ─ result ─ save (download, preview) ─ journal

A tool call only *waits* on a job for a bounded time; when it returns, the follower goes on, and
`check_status` waits again. Every state the provider reports is written to the journal.

Several processes may share one journal (two windows of a host, a restart while the old process
lingers, a host that starts one process per call). One rule covers them all: a job is followed
(streamed, fetched, downloaded) by the process holding its lease, which renews it while it works;
any process takes a job over once its lease has lapsed — at start, and whenever a lease it watches
runs out (a follower was killed). A waiting call in a process that does not follow the job reads
its progress from the journal. A finished job whose video could not be saved stays `completed`
with `saved: false` and is tried again, with backoff, until it is saved or its URL is gone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from ..catalogue.declaration import Endpoint
from ..errors import (
    JobFailed,
    JobNotFound,
    ProviderError,
    ProviderHTTPError,
    ProviderUnreachable,
    SeedanceError,
    SubmitUncertain,
)
from ..journal.api import TERMINAL, JobJournal, JobRecord, new_job_id
from ..providers.base import (
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
# How often a waiting call hears "Generating, 35 s" when the provider is silent (and, for a job
# another process follows, how often the journal is read).
HEARTBEAT_SECONDS = 1.0
MAX_LOG_LINES = 50
# When the provider stays unreachable past its own request retries (~30 s), the follower tries again
# after this pause, doubling up to the cap: soon enough for a blip, cheap during an outage.
FOLLOW_RETRY_FIRST = 2.0
FOLLOW_RETRY_MAX = 60.0
# A follower renews its lease every third of this; a killed follower's jobs are taken over by
# another process once it lapses. Short enough that a crash costs seconds, long enough that a busy
# event loop or disk never loses a lease it is still using.
LEASE_SECONDS = 10.0
# A video that could not be saved (disk full, folder not writable) is tried again after this pause,
# doubling up to the cap, until saved or the URL answers that it is gone (fal keeps results for
# hours to days); after a day, nobody expects it any more.
SAVE_RETRY_FIRST = 5.0
SAVE_RETRY_MAX = 300.0
SAVE_GIVE_UP_SECONDS = 86_400.0
# States in which nothing more will happen by itself: waiting on them is pointless.
SETTLED = TERMINAL | {"uncertain"}

ProgressSink = Callable[[float, float, str], Awaitable[None]]


def new_owner_id() -> str:
    """This process's name on leases and partial files: its pid and 32 random bits (file-name safe)."""
    return f"p{os.getpid()}-{secrets.token_hex(4)}"


class Deliverer(Protocol):
    """Turns a finished provider output into a saved file; fills `video_path` & co. on the record.

    Raises a `SeedanceError` or `OSError` when it cannot; `lasting(exc)` tells whether trying again
    could help."""

    async def __call__(self, job: JobRecord, output: VideoOutput) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PartialFile:
    """A half-written download: whose it is, so that it can be removed once its owner is gone."""

    path: Path
    job_id: str
    owner: str


class Leftovers(Protocol):
    """Where partial downloads are found and removed (the deliverer's output folder)."""

    async def partial_files(self) -> list[PartialFile]: ...

    async def remove_partial(self, path: Path) -> None: ...


@dataclass
class _Live:
    """What this process's follower knows beyond the journal: the wake-up event and phase timing."""

    changed: anyio.Event = field(default_factory=anyio.Event)
    phase: str = "queued"
    phase_started: float = field(default_factory=time.monotonic)
    message: str = ""

    def notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    @classmethod
    def seen_in(cls, record: JobRecord) -> _Live:
        """The phase timing of a job followed elsewhere, from its journaled history."""
        started = next((t for s, t, _ in reversed(record.history) if s == record.state), record.created_at)
        phase = "running" if record.state == "running" else "queued"
        return cls(phase=phase, phase_started=time.monotonic() - max(0.0, time.time() - started))


def fingerprint(tool: str, provider: str, arguments: dict[str, Any], endpoint: str) -> str:
    """The de-duplication key of a call: the same arguments to another endpoint (tier, model) differ."""
    canonical = json.dumps(
        {"tool": tool, "provider": provider, "endpoint": endpoint, "arguments": arguments}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class JobManager:
    def __init__(
        self,
        *,
        provider: Provider,
        journal: JobJournal,
        task_group: TaskGroup,
        deliver: Deliverer,
        simulated: bool,
        follow_retry: tuple[float, float] = (FOLLOW_RETRY_FIRST, FOLLOW_RETRY_MAX),
        owner: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        save_retry: tuple[float, float] = (SAVE_RETRY_FIRST, SAVE_RETRY_MAX),
        leftovers: Leftovers | None = None,
        lasting: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self.provider = provider
        self.journal = journal
        self.simulated = simulated
        self.owner = owner or new_owner_id()
        self.lease_seconds = lease_seconds
        self._tg = task_group
        self._deliver = deliver
        self._leftovers = leftovers
        self._lasting = lasting
        self._live: dict[str, _Live] = {}
        # Jobs this process is working on (submitting, following, saving): never taken over twice.
        self._busy: set[str] = set()
        self._not_ours: set[str] = set()  # other providers' jobs, reported once
        self._follow_retry = follow_retry
        self._save_retry = save_retry

    @property
    def provider_label(self) -> str:
        """What the journal calls this run's provider: "simulator" when the embedded simulator serves it."""
        return "simulator" if self.simulated else self.provider.name

    # --- starting jobs -------------------------------------------------------------------------

    def dedupe_key(self, tool: str, endpoint: Endpoint, arguments: dict[str, Any]) -> str:
        return fingerprint(tool, self.provider.name, arguments, endpoint.ids["fal"])

    async def find_duplicate(self, key: str) -> JobRecord | None:
        """A journaled call with this key inside the dedupe window."""
        return await self.journal.find_duplicate(key, since=time.time() - DEDUPE_WINDOW_SECONDS)

    async def submit(
        self,
        *,
        tool: str,
        spec: JobSpec,
        key: str,
        estimate: dict[str, Any],
        estimate_usd: float,
    ) -> list[JobRecord]:
        """Claim the call in the journal, submit once, record the request id, start following.

        The claim is atomic in the journal: when an identical call (same fingerprint, in this or
        another process) was journaled inside the dedupe window, returns that call's jobs instead of
        submitting.
        """
        intents = self._intents(tool, spec, key, estimate, estimate_usd)
        records, claimed = await self.journal.claim(intents, since=time.time() - DEDUPE_WINDOW_SECONDS)
        if not claimed:
            log.info("job %s: identical call already journaled; not submitting again", records[0].id)
            return records
        for record in records:
            # A waiter (an identical call) can wait on the intent until the request id arrives.
            self._live[record.id] = _Live()
            self._busy.add(record.id)
        return await self._submit_intents(spec, records)

    def _intents(
        self, tool: str, spec: JobSpec, key: str, estimate: dict[str, Any], estimate_usd: float
    ) -> list[JobRecord]:
        now = time.time()
        group_id = new_job_id() if spec.count > 1 else None
        return [
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
                dedupe_key=key,
                group_id=group_id,
                # Held from the start: no other process may call a row being submitted abandoned.
                lease_owner=self.owner,
                lease_expires=now + self.lease_seconds,
            )
            for _ in range(spec.count)
        ]

    async def group_of(self, record: JobRecord) -> list[JobRecord]:
        """Every job made by the same request as `record`, in submit order (itself alone if alone)."""
        if record.group_id is None:
            return [record]
        return await self.journal.group(record.group_id) or [record]

    async def _submit_intents(self, spec: JobSpec, intents: list[JobRecord]) -> list[JobRecord]:
        ids = [intent.id for intent in intents]
        submissions: list[Submission] = []
        try:
            async with self._renewing(ids) as lost:
                submissions = await self._submit_and_record(spec, intents)
            if lost.is_set():  # stalled past the lease mid-submit; the row says uncertain
                raise SubmitUncertain(
                    "The submit stalled and was given up, so it may or may not have reached the provider. "
                    + uncertain_advice(ids[0])
                )
        except BaseException:
            # No follower will come for these: let waiters see the journaled outcome now.
            with anyio.CancelScope(shield=True):
                for job_id in ids:
                    await self._let_go(job_id)
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

    async def _submit_and_record(self, spec: JobSpec, intents: list[JobRecord]) -> list[Submission]:
        try:
            return await self.provider.submit(spec)
        except SubmitUncertain as exc:
            for intent in intents:
                await self.journal.update(intent.id, state="uncertain", note=str(exc), error=str(exc))
            raise SubmitUncertain(f"{exc} {uncertain_advice(intents[0].id)}") from exc
        except SeedanceError as exc:
            for intent in intents:
                await self.journal.update(intent.id, state="failed", note="submit refused", error=str(exc))
            raise
        except BaseException:
            # Anything unexpected after the request may have left: keep the row honest.
            with anyio.CancelScope(shield=True):
                for intent in intents:
                    await self.journal.update(
                        intent.id,
                        state="uncertain",
                        note="submit interrupted",
                        error="The submit was interrupted, so the job may or may not exist at the provider. "
                        + uncertain_advice(intent.id),
                    )
            raise

    async def resume(self) -> int:
        """At start: remove partial downloads whose owner is gone, take over every job nobody holds,
        then keep watching for jobs whose follower stops renewing its lease. Returns how many were taken."""
        await self._remove_orphan_partials()
        taken = await self._take_over()
        self._tg.start_soon(self._watch_leases, name="lease watcher")
        return taken

    async def _watch_leases(self) -> None:
        pause = self.lease_seconds / 3
        while True:
            try:
                lapse = await self.journal.next_lease_expiry(self.owner)
                # Wake just after the first lease held elsewhere lapses: a killed follower's jobs move
                # on within one lease period.
                delay = pause if lapse is None else min(pause, max(0.01, lapse - time.time() + 0.01))
                await anyio.sleep(delay)
                taken = await self._take_over()
                if taken:
                    log.info("following %d unfinished job(s) whose follower stopped", taken)
            except Exception as exc:  # the journal was busy or unreadable for a moment: look again later
                log.warning("looking for jobs to take over failed: %s", exc)
                await anyio.sleep(pause)

    async def _take_over(self) -> int:
        taken = 0
        for record in await self.journal.takeable(self.owner):
            if record.id in self._busy or record.id in self._not_ours:
                continue
            if record.provider != self.provider_label:
                # Another provider's job (a paid fal job, and this run has no key): following or saving it
                # here would send the wrong key to its URLs and fail it. Leave it for a run that has its
                # provider.
                self._not_ours.add(record.id)
                log.warning(
                    "job %s belongs to %s, but this server runs %s: not following it",
                    record.id,
                    record.provider,
                    self.provider_label,
                )
                continue
            held = await self.journal.take_lease(record.id, self.owner, self.lease_seconds)
            if held is None:
                continue  # another process was quicker
            if held.state == "completed":
                self._busy.add(held.id)
                self._tg.start_soon(
                    self._leased, held.id, partial(self._save_again, held.id), name=f"save {held.id}"
                )
            elif held.submission:
                self._follow(held.id, _submission_of(held))
            elif held.state == "submitting":
                # Its submitter stopped renewing the lease mid-submit: it was killed.
                await self.journal.update(
                    held.id,
                    state="uncertain",
                    note="server stopped while submitting",
                    error="The server stopped while this job was being submitted, so it may or may not "
                    "exist at the provider. " + uncertain_advice(held.id),
                )
                await self.journal.release_lease(held.id, self.owner)
                continue
            else:
                await self.journal.release_lease(held.id, self.owner)
                continue
            taken += 1
        return taken

    # --- following ------------------------------------------------------------------------------

    def _follow(self, job_id: str, submission: Submission) -> None:
        self._live.setdefault(job_id, _Live())
        self._busy.add(job_id)

        follow = partial(self._run_follower, job_id, submission)
        self._tg.start_soon(self._leased, job_id, follow, name=f"follow {job_id}")

    async def _leased(self, job_id: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for a job whose lease this process holds, renewing it; stop if it is lost."""
        try:
            async with self._renewing([job_id]) as lost:
                await work()
            if lost.is_set():
                log.warning("job %s: another process took the job over; it follows it now", job_id)
        finally:
            with anyio.CancelScope(shield=True):
                await self._let_go(job_id)

    @asynccontextmanager
    async def _renewing(self, job_ids: Sequence[str]) -> AsyncIterator[anyio.Event]:
        """Renew the leases of `job_ids` every third of the lease period while the block runs. If one is
        lost (another process took the job over after this one stalled), the block is cancelled and
        the yielded event is set."""
        lost = anyio.Event()
        renewer = anyio.CancelScope()
        with anyio.CancelScope() as block:

            async def renew() -> None:
                with renewer:
                    while True:
                        await anyio.sleep(self.lease_seconds / 3)
                        for job_id in job_ids:
                            try:
                                kept = await self.journal.renew_lease(job_id, self.owner, self.lease_seconds)
                            except Exception as exc:  # a busy journal: the lease has time left to retry
                                log.warning("job %s: lease not renewed: %s", job_id, exc)
                                continue
                            if not kept:
                                lost.set()
                                block.cancel()
                                return

            self._tg.start_soon(renew, name="lease renewal")
            try:
                yield lost
            finally:
                renewer.cancel()

    async def _let_go(self, job_id: str) -> None:
        self._busy.discard(job_id)
        live = self._live.pop(job_id, None)
        try:
            await self.journal.release_lease(job_id, self.owner)
        except Exception as exc:  # the journal closing or busy: the lease lapses by itself
            log.debug("job %s: lease not released: %s", job_id, exc)
        if live is not None:
            live.notify()

    async def _run_follower(self, job_id: str, submission: Submission) -> None:
        live = self._live.setdefault(job_id, _Live())
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
            unbilled = {} if exc.charged else {"estimate_usd": 0.0}  # the spend rule counts estimate_usd
            await self.journal.update(
                job_id,
                state="failed",
                finished_at=time.time(),
                error=str(exc),
                error_type=exc.error_type,
                **unbilled,
            )
            return
        record = await self.journal.update(
            job_id, result_url=output.url or None, seed=output.seed, note="result"
        )
        await self._save(job_id, output, record)

    # --- saving ---------------------------------------------------------------------------------

    async def _save(self, job_id: str, output: VideoOutput, record: JobRecord | None = None) -> JobRecord:
        """Save the finished video; on failure record `saved: false`, the reason and the next try.
        `record`: the job as just journaled, when the caller has it (one read fewer)."""
        live = self._live.get(job_id)
        if live is not None:
            live.message = "Saving the video"
            live.notify()
        if record is None:
            record = await self.get(job_id)
        try:
            delivered = await self._deliver(record, output)
        except (SeedanceError, OSError) as exc:
            # The video exists at the provider: a failed save keeps the URL and is tried again.
            reason = str(exc) if isinstance(exc, SeedanceError) else (exc.strerror or type(exc).__name__)
            attempts = record.save_attempts + 1
            first, cap = self._save_retry
            finished = record.finished_at or time.time()
            fresh = time.time() - finished < SAVE_GIVE_UP_SECONDS
            again = bool(output.url) and fresh and not self._lasting(exc)
            log.warning("job %s: saving the video failed (try %d): %s", job_id, attempts, reason)
            return await self.journal.update(
                job_id,
                state="completed",
                note="not saved",
                saved=False,
                save_error=reason,
                save_attempts=attempts,
                next_save_at=time.time() + min(cap, first * 2 ** (attempts - 1)) if again else None,
            )
        return await self.journal.update(
            job_id,
            state="completed",
            note="saved",
            saved=True,
            save_error=None,
            next_save_at=None,
            save_attempts=record.save_attempts + 1,
            **delivered,
        )

    async def _save_again(self, job_id: str) -> None:
        record = await self.get(job_id)
        if record.saved is not False or not record.result_url:
            return
        output = VideoOutput(url=record.result_url, seed=record.seed)
        if record.simulated and record.submission and record.provider == self.provider_label:
            # The URL names the simulator of the process that saw the job finish; ask this one's.
            try:
                output = await self.provider.result(_submission_of(record))
            except SeedanceError as exc:
                log.warning("job %s: the simulator did not give the result again: %s", job_id, exc)
            else:
                await self.journal.update(job_id, result_url=output.url or None)
        await self._save(job_id, output)

    async def save_now(self, job_id: str) -> JobRecord:
        """Try a pending save at once (check_status asks), unless another process is saving it."""
        record = await self.get(job_id)
        if record.saved is not False or record.next_save_at is None or job_id in self._busy:
            return record
        if await self.journal.take_lease(job_id, self.owner, self.lease_seconds) is None:
            return record
        self._busy.add(job_id)
        await self._leased(job_id, partial(self._save_again, job_id))
        return await self.get(job_id)

    async def _remove_orphan_partials(self) -> None:
        if self._leftovers is None:
            return
        for part in await self._leftovers.partial_files():
            record = await self.journal.get(part.job_id)
            held = (
                record is not None
                and record.lease_owner == part.owner
                and (record.lease_expires or 0) > time.time()
            )
            if not held:
                await self._leftovers.remove_partial(part.path)

    # --- waiting --------------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobRecord:
        record = await self.journal.get(job_id)
        if record is None:
            raise JobNotFound(
                f"No job with id {job_id!r}. Call list_jobs to see recent jobs; ids look like 'sd_…'."
            )
        return record

    async def wait(self, job_id: str, seconds: float, progress: ProgressSink | None = None) -> JobRecord:
        """Wait up to `seconds` for the job to end, reporting progress; return its record.

        Works for a job another process follows too (its progress is read from the journal). A
        finished job whose save is pending is tried again first.
        """
        record = await self.get(job_id)
        if record.state == "completed" and record.saved is False:
            record = await self.save_now(job_id)
        if record.state in SETTLED or not self._moving(record):
            return record
        reporter = _ProgressReporter(progress)
        deadline = time.monotonic() + seconds
        elsewhere = _Live()  # set when another process changes the job, where the journal can tell
        seen = elsewhere.changed
        unsubscribe = self._hear_changes(job_id, elsewhere)
        try:
            while True:
                live = self._live.get(job_id)
                await reporter.report(record, live or _Live.seen_in(record))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return record
                # Followed here: woken by the follower. Elsewhere (or about to be taken over): woken
                # by the journal's change notice (PostgreSQL), else the journal is read each heartbeat.
                changed = live.changed if live is not None else seen
                with anyio.move_on_after(min(remaining, HEARTBEAT_SECONDS)):
                    await changed.wait()
                seen = elsewhere.changed
                record = await self.get(job_id)
                if record.state in SETTLED:
                    await reporter.report(record, self._live.get(job_id) or _Live.seen_in(record))
                    return record
        finally:
            unsubscribe()

    def _hear_changes(self, job_id: str, sink: _Live) -> Callable[[], None]:
        """Have the journal notify `sink` when any process changes `job_id` (journals that can: the
        PostgreSQL one, by LISTEN/NOTIFY); returns the unsubscribe."""
        subscribe = getattr(self.journal, "subscribe", None)
        if subscribe is None:
            return lambda: None
        unsubscribe: Callable[[], None] = subscribe(
            lambda changed_id: sink.notify() if changed_id in (job_id, "") else None
        )
        return unsubscribe

    def _moving(self, record: JobRecord) -> bool:
        """Whether someone follows the job or will: here, another process, or this one at its next look."""
        return (
            record.id in self._live
            or record.lease_owner is not None
            or record.provider == self.provider_label
        )

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
        accepted = await self.provider.cancel(_submission_of(record))
        note = "cancel requested" if accepted else "cancel refused"
        return await self.journal.update(job_id, note=note), accepted

    async def cancel_if_queued(self, job_id: str) -> None:
        """For the call that started a job, cancelled by the host: drop the job only if it has not
        started (nothing spent)."""
        record = await self.journal.get(job_id)
        if record is None or record.state != "queued" or not record.submission:
            return
        try:
            await self.cancel(job_id)
        except ProviderError as exc:
            log.warning("job %s: cancel after the host cancelled the call failed: %s", job_id, exc)


def uncertain_advice(job_id: str) -> str:
    """What to do about a job that is possibly charged: how to check, and how to submit again."""
    return (
        f"Job {job_id} is recorded as 'uncertain' (possibly charged, shown apart from certain spend). "
        "Check the provider's dashboard for a new request; if there is none, call the tool again with "
        "the same arguments to submit it again (an uncertain job does not block an identical call)."
    )


def _submission_of(record: JobRecord) -> Submission:
    assert record.submission is not None
    submission = Submission.from_json(record.submission)
    if record.simulated:
        # The embedded simulator that answered may have been another process's, on another port: reach
        # the job through this process's simulator, which reads the same state under SEEDANCE_HOME.
        return Submission(
            provider=submission.provider, request_id=submission.request_id, endpoint=submission.endpoint
        )
    return submission


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
