"""Saving a finished job's video: download it (through the `Deliverer`), journal the outcome; a failed
save is tried again with backoff. Also the removal of partial downloads whose owner is gone.
"""

from __future__ import annotations

import logging
import time

from ..errors import SeedanceError
from ..journal.api import JobRecord
from ..providers.base import VideoOutput
from .shared import JobsBase, _submission_of

log = logging.getLogger(__name__)


# A video that could not be saved (disk full, folder not writable) is tried again after this pause,
# doubling up to the cap, until saved or the URL answers that it is gone (fal keeps results for
# hours to days); after a day, nobody expects it any more.
SAVE_RETRY_FIRST = 5.0
SAVE_RETRY_MAX = 300.0
SAVE_GIVE_UP_SECONDS = 86_400.0


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
