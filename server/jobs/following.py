"""Following a submitted job at the provider: every state it reports is journaled, a finished job's
result is fetched and saved; an outage of the provider or of the journal is waited out, never
turned into a failed job.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio

from ..errors import JobFailed, JournalUnavailable, ProviderHTTPError, ProviderUnreachable, SeedanceError
from ..providers.base import Finished, Queued, QueueState, Running, Submission
from .saving import Saving
from .shared import LeaseLost, _Live

log = logging.getLogger(__name__)

MAX_LOG_LINES = 50
# When the provider stays unreachable past its own request retries (~30 s), the follower tries again
# after this pause, doubling up to the cap: soon enough for a blip, cheap during an outage.
FOLLOW_RETRY_FIRST = 2.0
FOLLOW_RETRY_MAX = 60.0


class Following(Saving):
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
                except (ProviderUnreachable, ProviderHTTPError, JournalUnavailable) as exc:
                    # The provider's own retries ran out, but the job is still there: a paid job is not
                    # marked failed for an outage. Follow again later; a real refusal (401, 404) ends it.
                    # Nor for the journal's database being away: nothing is decided until it answers.
                    if isinstance(exc, ProviderHTTPError) and not exc.retryable:
                        raise
                    away = "journal" if isinstance(exc, JournalUnavailable) else "provider"
                    log.warning(
                        "job %s: %s unavailable (%s); following again in %.0f s", job_id, away, exc, pause
                    )
                    live.message = f"{away.capitalize()} unavailable; still following"
                    live.notify()
                    await anyio.sleep(pause)
                    pause = min(pause * 2, max_pause)
        except LeaseLost:
            raise
        except SeedanceError as exc:
            log.warning("job %s: following failed: %s", job_id, exc)
            await self._end(job_id, state="failed", note="follow failed", error=str(exc))
        except Exception:
            log.exception("job %s: follower crashed", job_id)
            await self._end(
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
            started = live.phase != "running"
            if started:
                live.phase, live.phase_started = "running", time.monotonic()
            logs = live.logs
            new = [line.message for line in state.logs]
            # Providers resend the whole log on every status: keep only what is new.
            fresh = new[len(logs) :] if new[: len(logs)] == logs else new
            if fresh:
                live.message = fresh[-1]
            if fresh or started:
                live.logs = (logs + fresh)[-MAX_LOG_LINES:]
                await self.journal.update(job_id, state="running", queue_position=None, logs=live.logs)
        live.notify()

    async def _finish(self, job_id: str, submission: Submission, state: Finished) -> None:
        if state.cancelled:
            await self._end(job_id, state="cancelled", finished_at=time.time(), error=state.error)
            return
        try:
            output = await self.provider.result(submission)
        except JobFailed as exc:
            # The spend rule counts estimate_usd: a refusal the provider does not bill counts nothing.
            unbilled: dict[str, Any] = {} if exc.charged else {"estimate_usd": 0.0}
            await self._end(
                job_id,
                state="failed",
                finished_at=time.time(),
                error=str(exc),
                error_type=exc.error_type,
                **unbilled,
            )
            return
        record = await self.journal.update(
            job_id,
            result_url=output.url or None,
            seed=output.seed,
            draft_id=output.draft_id,  # a draft's, to finish it by
            draft_expires=output.draft_expires,
            note="result",
        )
        await self._save(job_id, output, record)
