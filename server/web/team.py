"""Team mode, wired in one place: the journal (SQLite, or PostgreSQL shared by replicas), fal with
completion webhooks, saving turned off for replicas without a shared folder, the keys replicas
share, and the HTTP routes `/healthz` and `/webhooks/fal/<token>`.

A replica that cannot serve says so: `/healthz` answers 503 within a couple of seconds, whatever the
database does, and once its journal has not answered for SEEDANCE_EXIT_AFTER_UNHEALTHY_SECONDS the
process exits with status 75 so that its supervisor starts a fresh one (`watch_health`).

A single user sets none of it and gets SQLite, status streams and saved files, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import cached_property
from typing import TYPE_CHECKING, Any

import anyio

from ..config import Settings

# What serves or opens the journal, the provider and webhooks is imported where it is used: the wiring
# is made with the server, before `tools/list` is answered, and those imports would slow every start.
if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.request_state import RequestStateSecurity

    from ..delivery.download import Deliverer
    from ..jobs.shared import SaveVideo
    from ..journal.api import JobJournal
    from ..journal.postgres import PgJournal
    from ..journal.sqlite import Journal
    from ..providers.base import Provider, VideoOutput
    from .webhooks import WebhookInbox

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
HEALTH_OPEN_SECONDS = 10.0  # a probe's patience while the journal opens
HEALTH_CHECK_SECONDS = 2.0  # ...and with the journal's answer: an outage is reported, not waited out
WATCH_EVERY_SECONDS = 5.0
EXIT_UNHEALTHY = 75  # EX_TEMPFAIL: a failure worth a restart


async def _nothing_to_wait_for() -> None:
    return None


def _request_of(journal: JobJournal) -> Callable[[str], Awaitable[str | None]]:
    """The provider request id a job of ours made, as the journal knows it (None: no such job)."""

    async def request_of(job_id: str) -> str | None:
        record = await journal.get(job_id)
        return record.request_id if record is not None else None

    return request_of


class TeamWiring:
    """Made with the server (routes must exist before it runs); the journal is opened in the lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        secret = settings.team_secret.get_secret_value().encode() if settings.team_secret else None
        # Without a shared secret each process signs with its own key: fine for one replica.
        self._secret = secret
        self.journal: Journal | PgJournal | None = None
        # Set by the app: waits until the journal and provider are open (they open on first need).
        self.opened: Callable[[], Awaitable[None]] = _nothing_to_wait_for

    @cached_property
    def inbox(self) -> WebhookInbox:
        from .webhook_signatures import FalSignatures
        from .webhooks import WebhookInbox

        signatures = FalSignatures(self.settings.fal_jwks_url)
        return WebhookInbox(self._secret or secrets.token_bytes(32), signatures)

    def request_state_security(self) -> RequestStateSecurity | None:
        """A confirmation answered through another replica must unseal there: seal with the shared key."""
        if self._secret is None:
            return None  # the SDK's default: a key of this process
        from mcp.server.request_state import RequestStateSecurity

        return RequestStateSecurity(keys=[self._secret])

    async def open_journal(self, stack: AsyncExitStack) -> JobJournal:
        database = self.settings.database_url
        if database is None:
            from ..journal.sqlite import Journal

            journal = await Journal.open(self.settings.home / "journal.sqlite3")
            stack.push_async_callback(journal.close)
            self.journal = journal
            self.inbox.request_of = _request_of(journal)
            return journal
        from ..journal.postgres import PgJournal
        from .webhooks import WAKE_CHANNEL

        pg = await PgJournal.open(database.get_secret_value())
        stack.push_async_callback(pg.close)
        # Webhooks reach any replica; NOTIFY passes each wake-up to all of them (this one included).
        pg.listen(WAKE_CHANNEL, self.inbox.wakeups.heard)

        async def publish_if_made(job_id: str, request_id: str, message: str) -> bool:
            return await pg.publish_if_made(WAKE_CHANNEL, message, job_id=job_id, request_id=request_id)

        self.inbox.publish_if_made = publish_if_made
        self.inbox.request_of = _request_of(pg)
        self.journal = pg
        log.info("journal: PostgreSQL (team mode)")
        return pg

    def provider(self, provider: Provider) -> Provider:
        """fal with completion webhooks when this server has a public URL; any other provider as is."""
        from ..providers.fal import FalProvider
        from .webhooks import WebhookFalProvider

        if self.settings.public_url is None or not isinstance(provider, FalProvider):
            return provider
        log.info("fal.ai reports finished jobs to %s/webhooks/fal/…", self.settings.public_url.rstrip("/"))
        return WebhookFalProvider(
            provider,
            public_url=self.settings.public_url,
            tokens=self.inbox.tokens,
            wakeups=self.inbox.wakeups,
        )

    def video_saver(self, deliverer: Deliverer) -> SaveVideo:
        """Save videos into the output folder, or (SEEDANCE_SAVE_VIDEOS=false) keep only their URLs."""
        if self.settings.save_videos:
            return deliverer

        async def keep_url_only(job: Any, output: VideoOutput, before_commit: Any) -> dict[str, Any]:
            return {}

        return keep_url_only

    def add_routes(self, server: MCPServer[Any]) -> None:
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        @server.custom_route(HEALTH_PATH, methods=["GET"])  # type: ignore[untyped-decorator]
        async def healthz(request: Request) -> JSONResponse:
            # The journal opens when first needed (quick start for stdio hosts): a probe needs it now.
            with anyio.move_on_after(HEALTH_OPEN_SECONDS), contextlib.suppress(Exception):
                await self.opened()
            return JSONResponse(*await self.health())

        if self.settings.public_url is not None:
            from .webhooks import add_webhook_route

            add_webhook_route(server, self.inbox)

    async def health(self) -> tuple[dict[str, Any], int]:
        """For load balancers: 200 when this replica can serve (its journal answers), else 503."""
        body: dict[str, Any] = {"status": "ok", "time": round(time.time(), 3)}
        journal = self.journal
        if journal is None:
            return {"status": "starting"}, 503
        body["journal"] = "sqlite" if self.settings.database_url is None else "postgresql"
        problem = f"no answer within {HEALTH_CHECK_SECONDS:.0f} s"
        with anyio.move_on_after(HEALTH_CHECK_SECONDS):
            try:
                await journal.get("sd_healthz")
                return body, 200
            except Exception as exc:  # any failure to answer means "do not route here"
                problem = type(exc).__name__
        log.warning("health check: journal unreachable: %s", problem)
        return {"status": "unavailable", "journal": body["journal"]}, 503

    async def read_webhook_keys(self) -> None:
        """With webhooks: read fal's keys at start, so that the first deliveries (often a burst of jobs
        ending together) do not all wait for that one fetch."""
        if self.settings.public_url is not None:
            await self.inbox.signatures.read_keys()

    async def watch_health(self) -> None:
        """With a database: exit (status 75) once the journal has not answered for the configured time.
        A replica that lingers unable to serve would hold its socket and fail every request, and its
        supervisor (systemd's `Restart=`, compose's `restart:`) restarts only a process that exits."""
        limit = self.settings.exit_after_unhealthy_seconds
        if self.settings.database_url is None or not limit:
            return
        healthy_at = time.monotonic()
        while True:
            await anyio.sleep(min(WATCH_EVERY_SECONDS, limit / 4))
            if (await self.health())[1] == 200:
                healthy_at = time.monotonic()
            elif time.monotonic() - healthy_at >= limit:
                log.critical(
                    "the journal has not answered for %.0f s: exiting so that a fresh process takes over",
                    limit,
                )
                logging.shutdown()
                os._exit(EXIT_UNHEALTHY)
