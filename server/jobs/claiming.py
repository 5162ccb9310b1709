"""Claiming jobs between processes: work on a job runs under its lease, renewed while it runs and
let go after; a job whose lease lapsed (or whose owner exited on this machine) is taken over, at
start and by the lease watcher, which also sweeps half-written files now and then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial

import anyio

from ..journal.api import JobRecord
from ..providers.base import Submission
from .following import Following
from .shared import LeaseLost, _Held, _Live, _submission_of, uncertain_advice

log = logging.getLogger(__name__)

# A follower renews its lease every third of this; a killed follower's jobs are taken over by
# another process once it lapses. Short enough that a crash costs seconds, long enough that a busy
# event loop or disk never loses a lease it is still using.
LEASE_SECONDS = 10.0
# Half-written files of owners gone are looked for this often, besides when a job is taken over.
SWEEP_SECONDS = 60.0


class Claiming(Following):
    async def resume(self) -> int:
        """At start: take over every job nobody holds (or whose owner has exited), remove half-written
        files whose owner is gone, then keep watching for jobs whose follower stops renewing its lease.
        Returns how many were taken."""
        taken = await self._take_over()
        await self.sweep_partials()
        self._tg.start_soon(self._watch_leases, name="lease watcher")
        return taken

    async def _watch_leases(self) -> None:
        pause = self.lease_seconds / 3
        next_sweep = time.monotonic() + SWEEP_SECONDS
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
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                    await self.sweep_partials()
            except Exception as exc:  # the journal was busy or unreadable for a moment: look again later
                log.warning("looking for jobs to take over failed: %s", exc)
                await anyio.sleep(pause)

    async def _free_leases_of_gone_owners(self) -> None:
        """Leases of owners that ran here and have exited need not lapse: let them go now."""
        for record in await self.journal.unfinished(not_held_by=self.owner):
            owner = record.lease_owner
            if owner is not None and self._gone(owner):
                log.info("job %s: its follower (%s) has exited; taking it over now", record.id, owner)
                await self.journal.release_lease(record.id, owner)

    async def _take_over(self) -> int:
        await self._free_leases_of_gone_owners()
        taken = 0
        # Skipped in the query, and again here: a job may have become busy while it ran.
        for record in await self.journal.takeable(self.owner, skipping=self._busy | self._not_ours):
            if record.id in self._busy or record.id in self._not_ours:
                continue
            if self._may_still_land(record, time.time()):
                continue  # looked at again on the watcher's next round
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
                self._follow(held, _submission_of(held))
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
        if taken:
            await self.sweep_partials()  # the previous owners' half-written files
        return taken

    def _follow(self, record: JobRecord, submission: Submission) -> None:
        job_id = record.id
        # The log lines journaled so far come with the record: a thousand followers starting together
        # would otherwise each read them back.
        self._live.setdefault(job_id, _Live()).logs = list(record.logs)
        self._busy.add(job_id)

        follow = partial(self._run_follower, job_id, submission)
        self._tg.start_soon(self._leased, job_id, follow, name=f"follow {job_id}")

    async def _leased(self, job_id: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for a job whose lease this process holds, renewing it; stop if it is lost.
        Nothing it raises leaves here: one job's trouble never stops the others."""
        try:
            async with self._renewing([job_id]) as lost:
                await work()
            if lost.is_set():
                log.warning("job %s: another process took the job over; it follows it now", job_id)
        except LeaseLost:
            log.warning("job %s: another process took the job over; its video is saved there", job_id)
        except Exception:
            # The lease goes below: the watcher (here or elsewhere) takes the job up again.
            log.exception("job %s: its work stopped on an unexpected error", job_id)
        finally:
            with anyio.CancelScope(shield=True):
                await self._let_go(job_id)

    @asynccontextmanager
    async def _renewing(self, job_ids: Sequence[str]) -> AsyncIterator[anyio.Event]:
        """Keep the leases of `job_ids` renewed while the block runs (`_renew_held`). If one is lost
        (another process took the job over after this one stalled), the block is cancelled and the
        yielded event is set."""
        with anyio.CancelScope() as scope:
            held = _Held(tuple(job_ids), anyio.Event(), scope)
            self._held.add(held)
            if not self._renewer_running:
                self._renewer_running = True
                self._tg.start_soon(self._renew_held, name="lease renewal")
            try:
                yield held.lost
            finally:
                self._held.discard(held)

    async def _renew_held(self) -> None:
        """Every third of the lease period, renew every lease this process holds in one journal write
        (one per job made a thousand jobs a constant stream of writes ahead of every answer's reads)."""
        try:
            while self._held:
                await anyio.sleep(self.lease_seconds / 3)
                blocks = list(self._held)
                ids = {job_id for held in blocks for job_id in held.job_ids}
                if not ids:
                    continue
                try:
                    kept = await self.journal.renew_leases(ids, self.owner, self.lease_seconds)
                except Exception as exc:  # a busy journal: the leases have time left to retry
                    log.warning("leases of %d job(s) not renewed: %s", len(ids), exc)
                    continue
                for held in blocks:
                    if not kept.issuperset(held.job_ids):
                        held.lost.set()
                        held.scope.cancel()
        finally:
            self._renewer_running = False

    async def _let_go(self, job_id: str) -> None:
        self._busy.discard(job_id)
        live = self._live.pop(job_id, None)
        try:
            await self.journal.release_lease(job_id, self.owner)
        except Exception as exc:  # the journal closing or busy: the lease lapses by itself
            log.debug("job %s: lease not released: %s", job_id, exc)
        if live is not None:
            live.notify()
