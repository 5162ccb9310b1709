"""Saving a finished job's video: download (through `SaveVideo`, in practice delivery's `Deliverer`),
commit only while the lease is still this process's, journal the outcome; a failed save is tried again
with backoff. Also the sweep of half-written files whose owner is gone or no longer holds their job.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import anyio

from ..errors import JournalUnavailable, SeedanceError
from ..journal.api import JobRecord
from ..providers.base import VideoOutput
from .partial_files import PartialFile
from .shared import JobsBase, LeaseLost, _submission_of

log = logging.getLogger(__name__)

# A video that could not be saved (disk full, folder not writable) is tried again after this pause,
# doubling up to the cap, until saved or the URL answers that it is gone (fal keeps results for
# hours to days); after a day, nobody expects it any more.
SAVE_RETRY_FIRST = 5.0
SAVE_RETRY_MAX = 300.0
SAVE_GIVE_UP_SECONDS = 86_400.0
# An owner whose lease lapsed while its video was being saved may have been paused, not killed: its
# download may still land. Its job is left to it for this many lease periods past the lease (a pause
# longer than that costs a second download, never a second file).
SAVE_GRACE_LEASES = 3
# A half-written file tied to no job (a film, a frame, a preview) nobody wrote for this long, by an
# owner whose end cannot be seen from here (another machine), was abandoned.
STALE_PARTIAL_SECONDS = 900.0


class Saving(JobsBase):
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
            delivered = await self._deliver(record, output, partial(self._confirm_lease, job_id))
        except JournalUnavailable:
            raise  # the follower waits for the journal and tries again (the file, if saved, is reused)
        except (SeedanceError, OSError) as exc:
            return await self._save_failed(record, exc, again=bool(output.url) and not self._lasting(exc))
        return await self._end(
            job_id,
            state="completed",
            note="saved",
            saved=True,
            save_error=None,
            next_save_at=None,
            save_attempts=record.save_attempts + 1,
            **delivered,
        )

    async def _save_failed(self, record: JobRecord, exc: BaseException, *, again: bool) -> JobRecord:
        """Record a failed save: `saved: false`, the reason, and (`again`, while fresh) the next try."""
        # The video exists at the provider: a failed save keeps the URL and is tried again.
        reason = (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else str(exc)
        attempts = record.save_attempts + 1
        first, cap = self._save_retry
        finished = record.finished_at or time.time()
        again = again and time.time() - finished < SAVE_GIVE_UP_SECONDS
        log.warning("job %s: saving the video failed (try %d): %s", record.id, attempts, reason)
        return await self._end(
            record.id,
            state="completed",
            note="not saved",
            saved=False,
            save_error=reason,
            save_attempts=attempts,
            next_save_at=time.time() + min(cap, first * 2 ** (attempts - 1)) if again else None,
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
                # Its old URL names a simulator gone with its process (and off the download policy):
                # ask this one again later instead.
                log.warning("job %s: the simulator did not give the result again: %s", job_id, exc)
                await self._save_failed(record, exc, again=True)
                return
            await self.journal.update(job_id, result_url=output.url or None)
        await self._save(job_id, output)

    async def _confirm_lease(self, job_id: str) -> None:
        """Just before a saved video takes its final name: renew the lease, proving no other process
        took the job over while this one stalled (then it saves the video, and this copy is dropped).
        Waits for the journal while it is away."""
        pause, max_pause = self._follow_retry
        while True:
            try:
                kept = await self.journal.renew_lease(job_id, self.owner, self.lease_seconds)
            except JournalUnavailable as exc:
                log.warning("job %s: cannot confirm the lease before saving (%s); waiting", job_id, exc)
                await anyio.sleep(pause)
                pause = min(pause * 2, max_pause)
                continue
            if not kept:
                raise LeaseLost(job_id)
            return

    def _may_still_land(self, record: JobRecord, now: float) -> bool:
        """Whether another owner's save of this job may still complete: it had the video's URL, its
        lease lapsed less than the grace period ago, and it may be only paused."""
        owner = record.lease_owner
        return (
            owner is not None
            and owner != self.owner
            and record.result_url is not None
            and record.saved is not True
            and now < (record.lease_expires or 0) + SAVE_GRACE_LEASES * self.lease_seconds
            and not self._gone(owner)
        )

    async def sweep_partials(self) -> None:
        """Remove the half-written files whose owner is gone or no longer holds their job."""
        if self._leftovers is None:
            return
        for part in await self._leftovers.partial_files():
            if await self._abandoned(part):
                log.info("removing %s, left half-written by %s", part.path.name, part.owner)
                await self._leftovers.remove_partial(part.path)

    async def _abandoned(self, part: PartialFile) -> bool:
        if part.owner == self.owner:
            return False
        if self._gone(part.owner):
            return True
        now = time.time()
        if part.job_id is None:  # a film, a frame, a preview: its writer keeps writing while it lives
            return now - part.modified > STALE_PARTIAL_SECONDS
        record = await self.journal.get(part.job_id)
        if record is None or record.lease_owner != part.owner:
            return True
        return (record.lease_expires or 0) <= now and not self._may_still_land(record, now)
