"""What the server holds while it runs, handed to every tool call through the lifespan context.

The server answers `initialize` and `tools/list` before anything slow is open: the lifespan makes this
object with the settings at once, and the parts that take time (the journal, the provider and its
simulator, the job manager, the generation service) are attached by `attach` when a background task has
opened them. That task starts when the first call needs them (`opened()`, awaited by every tool call and
resource read; see `server/app.py`), just after the tool list has gone out (`listed()`), or a few seconds
after start (to resume unfinished jobs even for a host that never lists tools), whichever is first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from .config import Settings
from .errors import SeedanceError

if TYPE_CHECKING:
    from .delivery.download import Deliverer
    from .generation.service import Generations
    from .jobs.manager import JobManager


class StartupError(SeedanceError):
    """The journal, the provider or the simulator could not be opened; every call says why."""


@dataclass
class AppState:
    settings: Settings
    # Attached once opened (`attach`); read them only after `await opened()`.
    jobs: JobManager = field(init=False)
    generations: Generations = field(init=False)  # the one door every generation goes through
    deliverer: Deliverer = field(init=False)
    # Completed jobs whose poster and contact sheet check_status has sent: a repeated poll sends them once.
    _wanted: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _listed: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _ready: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _failure: str | None = field(default=None, init=False, repr=False)

    def attach(self, *, jobs: JobManager, generations: Generations, deliverer: Deliverer) -> None:
        self.jobs, self.generations, self.deliverer = jobs, generations, deliverer
        self._ready.set()

    def fail(self, reason: str) -> None:
        self._failure = reason
        self._ready.set()

    def listed(self) -> None:
        """The host has the tool list: the slow parts may open now, without delaying its answer."""
        self._listed.set()

    async def wanted(self, within: float, *, after_listing: float) -> None:
        """Return when a call first needs the slow parts, `after_listing` seconds after the tool list was
        answered (so the answer is written first), or after `within` seconds."""
        with anyio.move_on_after(within), anyio.CancelScope() as scope:

            async def once(event: anyio.Event, pause: float) -> None:
                await event.wait()
                await anyio.sleep(pause)
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(once, self._wanted, 0)
                tg.start_soon(once, self._listed, after_listing)

    async def opened(self) -> None:
        """Wait until the slow parts are open; raise `StartupError` if they could not be."""
        self._wanted.set()
        await self._ready.wait()
        if self._failure is not None:
            raise StartupError(self._failure)
