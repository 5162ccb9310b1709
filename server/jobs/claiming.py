"""Claiming jobs between processes: work on a job runs under its lease, renewed while it runs and
let go after; a job whose lease lapsed is taken over, at start and by the lease watcher.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial

import anyio

from ..providers.base import Submission
from .following import Following
from .shared import _Live, _submission_of, uncertain_advice

log = logging.getLogger(__name__)


# A follower renews its lease every third of this; a killed follower's jobs are taken over by
# another process once it lapses. Short enough that a crash costs seconds, long enough that a busy
# event loop or disk never loses a lease it is still using.
LEASE_SECONDS = 10.0


class Claiming(Following):
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
