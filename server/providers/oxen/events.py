"""Oxen.ai's event stream: one shared `GET /api/events` subscription that wakes the watchers of generations.

Oxen pushes `media_generation_completed` (`{generation_id, status, media_type, model, url}` or
`{..., error}`) for every generation of the account, with a keep-alive comment every 15 s. An event
only wakes its generation's watcher, which then reads the status with our key: the read, not the
event, decides what happened (as with fal's webhooks in `server.webhooks`).

    watcher ─ join ─► EventStream ── opens GET /api/events (first watcher), closes it (last one gone)
       ▲                   │ event for generation g, stream up, stream down
       └──── wake(g) ◄─────┘   (every watcher is woken on up/down: it reads once and picks its pace)

The stream is opened on the provider's HTTP client from a task of its own, started when the first
watcher joins and cancelled when the last one leaves. A refused stream (401/403/404/405: a host
without it) is asked for again only after `REFUSED_RETRY` seconds, whoever watches then; a broken
one after a growing pause.
While it is down, watchers poll as they did before the stream existed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, field

import anyio
import httpx

from .connection import OxenConnection

logger = logging.getLogger(__name__)

COMPLETED = "media_generation_completed"
# Oxen sends a keep-alive every 15 s: a stream silent for four of them is dead.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)
# How long a watcher waits for the stream's first answer before its first status read; the stream
# coming up later wakes it anyway.
SETTLE_WAIT = 5.0
# A broken stream is opened again after 1 s, doubling to 60 s while it keeps breaking; a stream that
# stayed up for `RECONNECT_MAX` seconds starts the pause over.
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 60.0
# A host that refuses the stream (no such endpoint, or not for this key) is asked again this rarely.
REFUSED_RETRY = 600.0
REFUSED = (401, 403, 404, 405, 410)


@dataclass(eq=False)
class Waiter:
    """One watcher of one generation: `woken` is set by its event, a cancel, or the stream changing."""

    generation_id: str
    woken: anyio.Event = field(default_factory=anyio.Event)

    def rearm(self) -> None:
        """Forget earlier wake-ups: called right before a status read, which sees all they could tell."""
        if self.woken.is_set():
            self.woken = anyio.Event()

    async def wait(self, seconds: float) -> bool:
        """True when woken within `seconds`."""
        with anyio.move_on_after(seconds):
            await self.woken.wait()
        return self.woken.is_set()


class EventStream:
    """The provider's one subscription to `GET /api/events`, shared by all its watchers."""

    def __init__(self, connection: OxenConnection) -> None:
        self._oxen = connection
        self._waiters: dict[str, set[Waiter]] = {}
        self._task: asyncio.Task[None] | None = None
        self._settled: anyio.Event | None = None  # set once the current task's first attempt is over
        self._refused_until = 0.0  # monotonic time before which a refused stream is not asked again
        self._refused_logged = False
        self.live = False  # connected now: events will come

    def join(self, generation_id: str) -> Waiter:
        waiter = Waiter(generation_id)
        self._waiters.setdefault(generation_id, set()).add(waiter)
        if self._task is None:
            self._settled = anyio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="oxen event stream")
        return waiter

    def leave(self, waiter: Waiter) -> None:
        waiters = self._waiters.get(waiter.generation_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[waiter.generation_id]
        if not self._waiters and self._task is not None:
            self._task.cancel()  # the task closes its response as it ends
            self._task, self._settled, self.live = None, None, False

    async def settled(self) -> None:
        """Until the stream answered its first attempt (up or refused), at most `SETTLE_WAIT` seconds."""
        if self._settled is not None:
            with anyio.move_on_after(SETTLE_WAIT):
                await self._settled.wait()

    def wake(self, generation_id: str) -> None:
        for waiter in self._waiters.get(generation_id, ()):
            waiter.woken.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.woken.set()

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self._wake_all()  # up: read what may have been missed; down: go back to polling
        if self._settled is not None:
            self._settled.set()

    async def _run(self) -> None:
        pause = RECONNECT_FIRST
        while True:
            if (refused_for := self._refused_until - time.monotonic()) > 0:
                self._set_live(False)
                await anyio.sleep(refused_for)
            opened = time.monotonic()
            try:
                await self._listen()
                why = "it ended"
            except _Refused as refused:
                log = logger.debug if self._refused_logged else logger.info
                log("Oxen.ai refused its event stream (%s); following generations by polling", refused)
                self._refused_logged = True
                self._refused_until = time.monotonic() + REFUSED_RETRY
                continue
            except Exception as exc:  # a dropped connection, a 5xx, a closed client: all end this stream
                why = self._oxen.safe(f"{type(exc).__name__}: {exc}")
            self._set_live(False)
            if time.monotonic() - opened >= RECONNECT_MAX:
                pause = RECONNECT_FIRST
            logger.info("Oxen.ai event stream closed (%s); polling, opening it again in %.0f s", why, pause)
            await anyio.sleep(pause * random.uniform(0.8, 1.2))
            pause = min(pause * 2, RECONNECT_MAX)

    async def _listen(self) -> None:
        """One connection: wake the watcher of each completed generation until the stream ends."""
        from httpx_sse import EventSource

        oxen = self._oxen
        headers = {**oxen.headers(), "Accept": "text/event-stream", "Cache-Control": "no-store"}
        request = oxen.client.build_request(
            "GET", f"{oxen.base}/api/events", headers=headers, timeout=STREAM_TIMEOUT
        )
        response = await oxen.client.send(request, stream=True)
        try:
            if response.status_code in REFUSED:
                raise _Refused(f"HTTP {response.status_code}")
            response.raise_for_status()
            if response.headers.get("content-type", "").partition(";")[0].strip() != "text/event-stream":
                raise _Refused("the answer is not an event stream")
            events = EventSource(response).aiter_sse()
            self._set_live(True)
            try:
                async for event in events:
                    if event.event == COMPLETED:
                        self._on_completed(event.data)
            finally:
                await events.aclose()
        finally:
            await response.aclose()

    def _on_completed(self, data: str) -> None:
        try:
            body = json.loads(data)
            generation_id = str(body["generation_id"])
        except (ValueError, KeyError, TypeError):
            logger.debug("Oxen.ai sent a completion without a generation id: %s", self._oxen.safe(data[:200]))
            return
        logger.debug("Oxen.ai says generation %s ended (%s)", generation_id, body.get("status"))
        self.wake(generation_id)


class _Refused(Exception):
    """The host answered the stream with a refusal that will not pass by retrying soon."""
