"""Opens what the running server holds: the HTTP client, the provider (or the embedded simulator), the
journal, the job manager and the generation service; holds them until shutdown, then closes them.

Imported only when the lifespan's background task starts, after `tools/list` has been answered: these
modules and their libraries are a good part of a start's own cost.
"""

from __future__ import annotations

import gc
import logging
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx

from . import __version__
from .config import Settings
from .delivery.download import Deliverer, lasting
from .generation.service import Generations
from .generation.spending_guard import SpendingGuard
from .http_pool import shared_client
from .jobs.manager import JobManager
from .jobs.partial_files import PartialFiles
from .media.finished_videos import frames_dir
from .outbound import AddressPolicy, origin_of
from .providers.base import Provider
from .setting_secrets import scrub, secret_values
from .state import AppState
from .web.team import TeamWiring

if TYPE_CHECKING:
    from .providers.fal import FalProvider
    from .providers.oxen import OxenProvider

log = logging.getLogger(__name__)

USER_AGENT = f"seedance-mcp/{__version__}"


async def open_and_hold(state: AppState, team: TeamWiring) -> None:
    """Open the HTTP client, provider (or simulator), journal, job manager and generation service, attach
    them to `state`, and hold them open until cancelled at shutdown; then close them, jobs first."""
    settings = state.settings
    async with AsyncExitStack() as stack:
        try:
            provider, deliverer = await _open_provider(settings, stack)
            provider = team.provider(provider)
            journal = await team.open_journal(stack)
            jobs_group = await stack.enter_async_context(anyio.create_task_group())
            jobs = JobManager(
                provider=provider,
                journal=journal,
                task_group=jobs_group,
                deliver=team.video_saver(deliverer),
                simulated=settings.simulated,
                owner=deliverer.owner,
                lease_seconds=settings.lease_seconds,
                leftovers=PartialFiles([settings.output_dir, preview_dir(settings), frames_dir(settings)]),
                lasting=lasting,
            )
            resumed = await jobs.resume()
            guard = SpendingGuard(settings, journal, owner=jobs.owner)
        except Exception as exc:
            # A library's message may quote a setting (psycopg quotes what it could not parse).
            reason = scrub(str(exc), secret_values(settings))
            log.error("could not start: %s: %s", type(exc).__name__, reason)
            state.fail(f"The server could not start: {reason}. Run `seedance-mcp doctor` to see what to fix.")
            return
        if resumed:
            log.info("following %d unfinished job(s) from an earlier run", resumed)
        state.attach(jobs=jobs, generations=Generations(settings, jobs, guard), deliverer=deliverer)
        _freeze_startup_objects()
        try:
            await anyio.sleep_forever()
        finally:
            jobs_group.cancel_scope.cancel()


def _freeze_startup_objects() -> None:
    """Leave what the start made (modules, schemas, the SDK's objects: about 100,000) out of later
    garbage collections. A full collection walked them all with the event loop stopped (50-200 ms
    here, the tail of answers and wake-ups under load); now it walks what came after. Collected
    first, so no garbage is kept for good."""
    gc.collect()
    gc.freeze()


def preview_dir(settings: Settings) -> Path:
    """Where posters and contact sheets go: beside the journal; for a team saving into one shared
    folder, into that folder (hidden), so whichever replica answers for a job has them at hand."""
    if settings.database_url is not None and settings.save_videos:
        return settings.output_dir / ".previews"
    return settings.home / "previews"


async def _open_provider(settings: Settings, stack: AsyncExitStack) -> tuple[Provider, Deliverer]:
    # Connect fast, read patiently: status streams stay open for minutes between pings. Each job in flight
    # holds one stream, on a connection of its own; other calls share a small pool (`server.http_pool`).
    http = await stack.enter_async_context(
        shared_client(headers={"User-Agent": USER_AGENT}, timeout=httpx.Timeout(30.0, connect=10.0))
    )
    output_dir, previews = settings.output_dir, preview_dir(settings)
    if settings.simulated:
        from .providers.fal import FalProvider
        from .simulator import Simulator, SimulatorOptions

        # Its jobs live under SEEDANCE_HOME, so they survive a restart like real ones.
        sim = Simulator(SimulatorOptions.from_settings(settings), state_dir=settings.home / "simulator")
        sim = await stack.enter_async_context(sim)
        log.info("no API key set: using the embedded simulator at %s", sim.url)
        provider = FalProvider(
            http,
            key="simulator",
            queue_url=sim.url,
            rest_url=sim.url,
            cdn_url=sim.url,
            store_io=settings.fal_store_io,
            object_expiry_seconds=settings.fal_object_expiry_seconds,
        )
        policy = result_policy(settings, sim.url)
        return provider, Deliverer(http, output_dir=output_dir, preview_dir=previews, policy=policy)
    if settings.provider == "oxen":
        oxen = _oxen_provider(settings, http)
        # Oxen's result URLs may need the key: sent to Oxen's own host only, never to a redirect target.
        return oxen, Deliverer(
            http,
            output_dir=output_dir,
            preview_dir=previews,
            policy=result_policy(settings),
            headers_for=oxen.auth_headers_for,
        )
    deliverer = Deliverer(http, output_dir=output_dir, preview_dir=previews, policy=result_policy(settings))
    return _fal_provider(settings, http), deliverer


def result_policy(settings: Settings, *extra: str) -> AddressPolicy:
    """Where finished videos may be downloaded from: public hosts, and the provider origins the operator
    configured (a simulator or proxy on this machine among them), never this machine's other services."""
    configured = (
        settings.fal_queue_url,
        settings.fal_rest_url,
        settings.fal_cdn_url,
        settings.oxen_url,
        *extra,
    )
    return AddressPolicy(trusted_origins=frozenset(filter(None, map(origin_of, configured))))


def _fal_provider(settings: Settings, http: httpx.AsyncClient) -> FalProvider:
    from .providers.fal import FalProvider

    assert settings.fal_key is not None
    return FalProvider(
        http,
        key=settings.fal_key.get_secret_value(),
        queue_url=settings.fal_queue_url,
        rest_url=settings.fal_rest_url,
        cdn_url=settings.fal_cdn_url,
        store_io=settings.fal_store_io,
        object_expiry_seconds=settings.fal_object_expiry_seconds,
    )


def _oxen_provider(settings: Settings, http: httpx.AsyncClient) -> OxenProvider:
    from .providers.oxen import OxenProvider

    assert settings.oxen_api_key is not None
    # fal storage gives Oxen public URLs for local files
    fal_upload = _fal_provider(settings, http).upload if settings.fal_key is not None else None
    return OxenProvider(
        http,
        key=settings.oxen_api_key.get_secret_value(),
        base_url=settings.oxen_url,
        upload_repo=settings.oxen_upload_repo,
        fallback_upload=fal_upload,
    )
