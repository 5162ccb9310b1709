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
runs out (a follower was killed) — or at once when its owner ran on this machine and has exited. A
job whose old owner may still be saving its video (it was paused, not killed) is left to it for a
grace period past its lease, and an owner commits a saved video only after renewing its lease, so
each video is downloaded once. A waiting call in a process that does not follow the job reads
its progress from the journal. A finished job whose video could not be saved stays `completed`
with `saved: false` and is tried again, with backoff, until it is saved or its URL is gone.

The journal's database going away is an expected event: a follower that cannot reach it waits and
resumes, never marking a job failed for it, and nothing one job's work raises stops the others.
Whoever takes a job over removes the old owner's half-written files; a periodic sweep removes the
rest (`partial_files`).

The manager is built from one module per concern: `claiming` (leases, take-over), `following`
(watching the provider), `saving` (download, previews, commit); this module starts jobs and waits on
them, and `shared` holds what they share.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..catalogue.declaration import Endpoint
from ..errors import JournalUnavailable, ProviderError, SeedanceError, SubmitUncertain
from ..journal.api import TERMINAL, JobJournal, JobRecord, new_job_id
from ..providers.base import JobSpec, Provider, Submission
from .claiming import LEASE_SECONDS, Claiming
from .following import FOLLOW_RETRY_FIRST, FOLLOW_RETRY_MAX
from .owners import new_owner_id
from .saving import SAVE_RETRY_FIRST, SAVE_RETRY_MAX
from .shared import Leftovers, SaveVideo, _Live, _submission_of, uncertain_advice

log = logging.getLogger(__name__)

# An identical call inside this window returns the job already made instead of paying twice:
# long enough to cover a host that re-sends a tool call after a dropped stream, short enough that
# "make it again" later does make it again. A different seed always makes a new job.
DEDUPE_WINDOW_SECONDS = 600.0

# How often a waiting call hears "Generating, 35 s" when the provider is silent (and, for a job
# another process follows, how often the journal is read).
HEARTBEAT_SECONDS = 1.0

# States in which nothing more will happen by itself: waiting on them is pointless.
SETTLED = TERMINAL | {"uncertain"}

ProgressSink = Callable[[float, float, str], Awaitable[None]]


def fingerprint(tool: str, provider: str, arguments: dict[str, Any], endpoint: str) -> str:
    """The de-duplication key of a call: the same arguments to another endpoint (tier, model) differ."""
    canonical = json.dumps(
        {"tool": tool, "provider": provider, "endpoint": endpoint, "arguments": arguments}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class JobManager(Claiming):
    def __init__(
        self,
        *,
        provider: Provider,
        journal: JobJournal,
        task_group: TaskGroup,
        deliver: SaveVideo,
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
        self._live = {}
        # Jobs this process is working on (submitting, following, saving): never taken over twice.
        self._busy = set()
        self._not_ours = set()  # other providers' jobs, reported once
        self._gone_owners = set()  # owners seen to have exited (an owner id never comes back)
        self._held = set()
        self._renewer_running = False
        self._follow_retry = follow_retry
        self._save_retry = save_retry

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
        finished_from: str | None = None,
    ) -> list[JobRecord]:
        """Claim the call in the journal, submit once, record the request id, start following.

        The claim is atomic in the journal: when an identical call (same fingerprint, in this or
        another process) was journaled inside the dedupe window, returns that call's jobs instead of
        submitting.
        """
        intents = self._intents(tool, spec, key, estimate, estimate_usd, finished_from)
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
        self,
        tool: str,
        spec: JobSpec,
        key: str,
        estimate: dict[str, Any],
        estimate_usd: float,
        finished_from: str | None,
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
                finished_from=finished_from,
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
            record = await self._record_request(intent.id, submission)
            records.append(record)
            self._follow(record, submission)
            self._live[record.id].notify()
        return records

    async def _record_request(self, job_id: str, submission: Submission) -> JobRecord:
        """Journal a request id the provider gave: never lost, so tried until the journal answers."""
        pause, max_pause = self._follow_retry
        while True:
            try:
                return await self.journal.update(
                    job_id,
                    state="queued",
                    note=f"request {submission.request_id}",
                    submission=submission.to_json(),
                    request_id=submission.request_id,
                    endpoint=submission.endpoint,
                )
            except JournalUnavailable as exc:
                log.warning("job %s: request id not journaled yet (%s); trying again", job_id, exc)
                await anyio.sleep(pause)
                pause = min(pause * 2, max_pause)

    async def _submit_and_record(self, spec: JobSpec, intents: list[JobRecord]) -> list[Submission]:
        try:
            return await self.provider.submit(replace(spec, job_ids=tuple(i.id for i in intents)))
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

    # --- waiting --------------------------------------------------------------------------------

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
                # A job the follower here has ended comes with its final record: nothing to wait for or
                # read back.
                settled = live.settled if live is not None else None
                if settled is None:
                    changed = live.changed if live is not None else seen
                    with anyio.move_on_after(min(remaining, HEARTBEAT_SECONDS)):
                        await changed.wait()
                    settled = live.settled if live is not None else None
                seen = elsewhere.changed
                record = settled or await self.get(job_id)
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
