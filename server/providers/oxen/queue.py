"""Oxen.ai's inference queue: enqueue, follow, result, cancel.

Enqueue with POST `/api/ai/queue` (1-4 generations of one body, one generation id each), read
GET `/api/ai/queue/{id}`, cancel with DELETE; the result is the generation's `result_url`.

With Oxen's event stream up (`events.EventStream`), a watcher reads the status once, then waits for
the generation's completion event and reads it again: the event only wakes it. The move from queued
to processing is then seen only at a safety read; that is the price of not polling. While the stream
is down or missing, the watcher polls, as it did before the stream existed.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from ...catalogue.endpoints import counting_param
from ...errors import JobFailed, ProviderError, ProviderHTTPError, ProviderUnreachable
from .._http import submit_once
from ..base import (
    Finished,
    Queued,
    QueueState,
    Running,
    Submission,
    VideoOutput,
)
from ..redaction import provider_says
from ..refusals import REAL_PERSON_LIKENESS, is_likeness
from .connection import OxenConnection, json_or_none
from .errors import expired, explain, http_error, submit_uncertain
from .events import EventStream

logger = logging.getLogger(__name__)

QUEUE_STATES = ("queued", "processing", "succeeded", "failed", "cancelled")

# Without the event stream: Oxen suggests polling video jobs every 10-30 s. The first polls come
# sooner so a short job (and the move from queued to processing) is seen promptly; after that, the
# low end of Oxen's range.
POLL_FIRST = 0.5
POLL_MAX = 10.0
# With the event stream up, a generation is read again this often even without an event, in case one
# was lost (the stream was up, but the event did not reach us).
SAFETY_POLL = 60.0
# Finished generations whose last read is kept for the `result` call that follows (one read saved).
KEPT_READS = 1000


def parse_status(data: Any, safe: Callable[[str], str]) -> QueueState:
    """One generation object as a neutral queue state; its error message as Oxen's own words."""
    if not isinstance(data, dict):
        raise ProviderError(
            f"Oxen.ai sent a status that is not an object: {provider_says('Oxen.ai', safe(str(data)[:2000]))}"
        )
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
        return Finished(error=explain(message, safe), error_type=kind)
    raise ProviderError(
        f"Oxen.ai sent an unknown status ({provider_says('Oxen.ai', safe(str(status)))}); "
        f"expected one of {', '.join(QUEUE_STATES)}"
    )


class OxenQueue:
    """Queued generations. Holds no job state: `_events` only wakes watchers in progress (on a completion
    event, or a cancel so it is seen at once), and `_kept` holds a finished generation's last read
    until its `result` is asked for."""

    def __init__(
        self, connection: OxenConnection, *, poll_first: float, poll_max: float, safety_poll: float
    ) -> None:
        self._oxen = connection
        self._poll_first = poll_first
        self._poll_max = poll_max
        self._safety_poll = safety_poll
        self._events = EventStream(connection)
        self._kept: OrderedDict[str, Any] = OrderedDict()

    async def enqueue(
        self, body: dict[str, Any], *, model: str, provider: str, count: int = 1
    ) -> list[Submission]:
        """Enqueue `count` generations of one body (the catalogue's job-count parameter, in Oxen's name)."""
        oxen = self._oxen
        url = f"{oxen.base}/api/ai/queue"
        content = json.dumps({**body, counting_param().name_for("oxen"): count}).encode()
        response = await submit_once(
            oxen.client,
            lambda: oxen.client.build_request(
                "POST", url, content=content, headers=oxen.headers(json_body=True)
            ),
            policy=oxen.retry,
            provider="Oxen.ai",
            base=oxen.base,
            safe=oxen.safe,
            uncertain=lambda what: submit_uncertain(model, what, safe=oxen.safe),
        )
        if response.status_code >= 400:
            raise http_error(response, action=f"enqueueing {model}", safe=oxen.safe, nothing_queued=True)
        data = json_or_none(response)
        generations = data.get("generations") if isinstance(data, dict) else None
        ids = [
            str(g["generation_id"])
            for g in generations or []
            if isinstance(g, dict) and g.get("generation_id")
        ]
        if not ids:
            raise submit_uncertain(model, "its answer had no generation ids", safe=oxen.safe)
        logger.info("Oxen.ai queued %s as %s", model, ", ".join(ids))
        return [
            Submission(
                provider=provider,
                request_id=gid,
                endpoint=model,
                status_url=f"{oxen.base}/api/ai/queue/{gid}",
                cancel_url=f"{oxen.base}/api/ai/queue/{gid}",
            )
            for gid in ids
        ]

    async def status(self, submission: Submission) -> QueueState:
        return (await self._read(submission))[0]

    async def _read(self, submission: Submission) -> tuple[QueueState, Any]:
        """The generation's state and the answer it was read from (None when Oxen has forgotten it)."""
        oxen = self._oxen
        response = await oxen.send("GET", submission.status_url, "checking the generation's status")
        if response.status_code == 404:
            # Every generation we poll was enqueued by us: a 404 means Oxen has forgotten it.
            return Finished(error=expired(submission.request_id), error_type="expired"), None
        if response.status_code != 200:
            raise http_error(response, action=f"checking generation {submission.request_id}", safe=oxen.safe)
        data = json_or_none(response)
        return parse_status(data, self._oxen.safe), data

    async def watch(self, submission: Submission) -> AsyncIterator[QueueState]:
        last: QueueState | None = None
        delay = self._poll_first
        waiter = self._events.join(submission.request_id)
        try:
            await self._events.settled()  # read after the stream is up, so no completion falls between
            while True:
                waiter.rearm()
                read = False
                try:
                    state, data = await self._read(submission)
                    read = True
                except (ProviderUnreachable, ProviderHTTPError) as exc:
                    if isinstance(exc, ProviderHTTPError) and not exc.retryable:
                        raise
                    logger.warning(
                        "status of %s unavailable (%s); still watching", submission.request_id, exc
                    )
                else:
                    if isinstance(state, Finished):
                        final = state
                        if not state.cancelled:  # nobody asks for a cancelled one's result
                            self._keep(submission.request_id, data)
                        break
                    if state != last:
                        last = state
                        yield state
                if self._events.live and read:
                    # Woken by the completion event, a cancel, or the stream going down or up.
                    await waiter.wait(self._safety_poll)
                else:  # no stream, or a read to try again soon (the event that asked for it is spent)
                    await waiter.wait(delay)
                    delay = min(delay * 2, self._poll_max)
        finally:
            self._events.leave(waiter)  # before the last state: its consumer may never resume us
        yield final

    def _keep(self, generation_id: str, data: Any) -> None:
        if isinstance(data, dict):
            self._kept[generation_id] = data
            while len(self._kept) > KEPT_READS:
                self._kept.popitem(last=False)

    async def result(self, submission: Submission) -> VideoOutput:
        oxen = self._oxen
        data = self._kept.pop(submission.request_id, None)
        if data is None:
            response = await oxen.send("GET", submission.status_url, "fetching the result")
            if response.status_code == 404:
                raise JobFailed(expired(submission.request_id), error_type="expired")
            if response.status_code != 200:
                raise http_error(
                    response, action=f"fetching generation {submission.request_id}", safe=oxen.safe
                )
            data = json_or_none(response)
        state = parse_status(data, oxen.safe)
        if isinstance(state, Finished) and state.error:
            refused = is_likeness(state.error)  # a refusal Oxen does not bill: the model never ran
            raise JobFailed(
                f"Oxen.ai generation {submission.request_id} failed: {state.error}",
                error_type=REAL_PERSON_LIKENESS if refused else state.error_type,
                charged=not refused,
            )
        url = data.get("result_url") if isinstance(data, dict) else None
        if not isinstance(state, Finished) or not isinstance(url, str) or not url:
            raise JobFailed(
                f"Oxen.ai generation {submission.request_id} has no result URL yet; check its status again.",
                error_type="no_media",
            )
        return VideoOutput(url=url)

    async def cancel(self, submission: Submission) -> bool:
        oxen = self._oxen
        response = await oxen.send("DELETE", submission.cancel_url, "cancelling the generation")
        if response.is_success:
            self._events.wake(submission.request_id)
            return True
        if response.status_code == 404:
            return False
        raise http_error(response, action=f"cancelling generation {submission.request_id}", safe=oxen.safe)
