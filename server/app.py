"""Builds the MCP server: the one place that wires the tools to the machinery.

`create_server(settings)` returns a ready `MCPServer`; nothing starts until a transport runs it.
Its lifespan answers at once; a background task then opens the shared HTTP client, the journal, the
provider (starting the embedded simulator when no key is set) and the job manager, and resumes every
unfinished job. Tool calls and resource reads wait for that (`AppState.opened`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import Icon, ToolAnnotations
from mcp.types import Tool as MCPTool
from pydantic import AnyUrl, ValidationError

from seedance_mcp.server import __version__
from seedance_mcp.server.arguments import allowed_arguments, explain_validation, make_strict
from seedance_mcp.server.config import Settings
from seedance_mcp.server.delivery import Deliverer, lasting
from seedance_mcp.server.generation import Generations
from seedance_mcp.server.jobs import JobManager
from seedance_mcp.server.listing import compact_tool
from seedance_mcp.server.providers.base import Provider
from seedance_mcp.server.spending import SpendingGuard
from seedance_mcp.server.state import AppState, StartupError
from seedance_mcp.server.team import TeamWiring
from seedance_mcp.tools import (
    cancel_job,
    check_status,
    estimate_cost,
    generate_video,
    list_jobs,
    reference_video,
    stitch_videos,
)
from seedance_mcp.tools.job_card import JobCard
from seedance_mcp.tools.models_resource import register_models_resource
from seedance_mcp.tools.prompts import register_prompts
from seedance_mcp.tools.resources import register_resources, register_spend_resource

log = logging.getLogger(__name__)

USER_AGENT = f"seedance-mcp/{__version__}"
INSTRUCTIONS = """Seedance 2.0 video generation. Draft with 5-second clips, then lengthen. Prices are real \
(about $0.24 per second at 720p on the fast tier): use estimate_cost when the user cares. Generating tools \
wait a bounded time and then return a job_id; call check_status with it until the video is done. Local \
files can be passed as paths."""

# The repository's icon.png (also the bundle's icon), by URL: a data: URI would repeat ~60 kB in every
# tools/list. The server's entry says what it is; each tool's is the bare link (context cost).
ICON_URL = "https://github.com/seedance-mcp/seedance-mcp/raw/main/icon.png"
SERVER_ICONS = [Icon(src=ICON_URL, mime_type="image/png", sizes=["512x512"])]
TOOL_ICONS = [Icon(src=ICON_URL)]

# Opening the journal, provider and simulator is partly synchronous work on the event loop (imports, the
# simulator's start): it waits for the first call that needs it, or until just after `tools/list` has been
# answered, or at most this long, so the host's `initialize` and `tools/list` are answered first.
OPEN_AFTER_SECONDS = 5.0
OPEN_AFTER_LISTING_SECONDS = 0.1

TOOL_MODULES = (
    generate_video,
    reference_video,
    check_status,
    estimate_cost,
    list_jobs,
    cancel_job,
    stitch_videos,
)


class SeedanceServer(MCPServer[AppState]):
    """An MCPServer whose tools refuse unknown arguments, with errors like the rest (field, limit, fix),
    and whose tool list is written compactly, with the active provider's parameters only
    (`server/listing.py`)."""

    provider: str = "simulator"  # set by create_server
    running: AppState | None = None  # the state of the running lifespan, told when tools are listed

    async def list_tools(self) -> list[MCPTool]:
        tools = [compact_tool(tool, self.provider) for tool in await super().list_tools()]
        if self.running is not None:
            self.running.listed()
        return tools

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        super().add_tool(fn, name, title, description, annotations, icons, meta, structured_output)
        tool = self._tool_manager.get_tool(name or fn.__name__)
        assert tool is not None
        make_strict(tool)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> Any:
        try:
            if context is not None:  # the first call waits for the journal and provider to open
                await context.request_context.lifespan_context.opened()
            return await super().call_tool(name, arguments, context)
        except StartupError as exc:
            raise ToolError(str(exc)) from exc
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                tool = self._tool_manager.get_tool(name)
                allowed = allowed_arguments(tool) if tool is not None else []
                raise ToolError(explain_validation(name, exc.__cause__, allowed)) from exc.__cause__
            raise

    async def read_resource(self, uri: AnyUrl | str, context: Context[AppState, Any] | None = None) -> Any:
        if context is not None:
            try:
                await context.request_context.lifespan_context.opened()
            except StartupError as exc:
                raise ResourceError(str(exc)) from exc
        return await super().read_resource(uri, context)


def create_server(settings: Settings) -> SeedanceServer:
    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        # Yield at once so `initialize` and `tools/list` are answered before the rest opens.
        state = server.running = AppState(settings=settings)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_open_and_hold, state, team)
            yield state
            tg.cancel_scope.cancel()

    job_card = JobCard(settings)  # MCP Apps: the live job card and its app-only follow tool
    team = TeamWiring(settings)  # SQLite or PostgreSQL, webhooks, /healthz
    server = SeedanceServer(
        name="seedance-mcp",
        title="Seedance 2.0 video",
        version=__version__,
        instructions=INSTRUCTIONS,
        website_url="https://github.com/seedance-mcp/seedance-mcp",
        icons=SERVER_ICONS,
        lifespan=lifespan,
        extensions=[job_card],
        middleware=[job_card.hide_app_only_tools],
        request_state_security=team.request_state_security(),
    )
    server.provider = settings.provider

    async def opened() -> None:
        if server.running is not None:
            await server.running.opened()

    team.opened = opened
    team.add_routes(server)
    for module in TOOL_MODULES:
        server.add_tool(
            getattr(module, module.NAME),
            name=module.NAME,
            title=module.TITLE,
            description=module.DESCRIPTION,
            annotations=module.ANNOTATIONS,
            meta=getattr(module, "META", None),
            icons=TOOL_ICONS,
        )
    register_resources(server)
    register_models_resource(server, settings)
    register_spend_resource(server, settings)
    register_prompts(server)
    return server


async def _open_and_hold(state: AppState, team: TeamWiring) -> None:
    """Open the HTTP client, provider (or simulator), journal, job manager and generation service, attach
    them to `state`, and hold them open until cancelled at shutdown; then close them, jobs first."""
    settings = state.settings
    await state.wanted(within=OPEN_AFTER_SECONDS, after_listing=OPEN_AFTER_LISTING_SECONDS)
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
                leftovers=deliverer,
                lasting=lasting,
            )
            resumed = await jobs.resume()
            guard = SpendingGuard(settings, journal, owner=jobs.owner)
        except Exception as exc:
            log.exception("could not start")
            state.fail(f"The server could not start: {exc}. Run `seedance-mcp doctor` to see what to fix.")
            return
        if resumed:
            log.info("following %d unfinished job(s) from an earlier run", resumed)
        state.attach(jobs=jobs, generations=Generations(settings, jobs, guard), deliverer=deliverer)
        try:
            await anyio.sleep_forever()
        finally:
            jobs_group.cancel_scope.cancel()


async def _open_provider(settings: Settings, stack: AsyncExitStack) -> tuple[Provider, Deliverer]:
    # Connect fast, read patiently: status streams stay open for minutes between pings.
    # Every job in flight holds one stream (a connection) for its whole life: the pool must hold far more
    # than any account's concurrency, or with 100 jobs running a submit waits for a slot and fails.
    http = await stack.enter_async_context(
        httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(30.0, connect=10.0),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=20),
        )
    )
    deliverer = Deliverer(http, output_dir=settings.output_dir, preview_dir=settings.home / "previews")
    from seedance_mcp.server.providers.fal import FalProvider

    if settings.simulated:
        from seedance_mcp.server.simulator import Simulator, SimulatorOptions

        # Its jobs live under SEEDANCE_HOME, so they survive a restart like real ones.
        sim = Simulator(SimulatorOptions.from_settings(settings), state_dir=settings.home / "simulator")
        sim = await stack.enter_async_context(sim)
        log.info("no API key set: using the embedded simulator at %s", sim.url)
        return (
            FalProvider(http, key="simulator", queue_url=sim.url, rest_url=sim.url, cdn_url=sim.url),
            deliverer,
        )
    if settings.provider == "oxen":
        return _oxen_provider(settings, http, deliverer)
    assert settings.fal_key is not None
    provider = FalProvider(
        http,
        key=settings.fal_key.get_secret_value(),
        queue_url=settings.fal_queue_url,
        rest_url=settings.fal_rest_url,
        cdn_url=settings.fal_cdn_url,
    )
    return provider, deliverer


def _oxen_provider(
    settings: Settings, http: httpx.AsyncClient, deliverer: Deliverer
) -> tuple[Provider, Deliverer]:
    from seedance_mcp.server.providers.fal import FalProvider
    from seedance_mcp.server.providers.oxen import OxenProvider

    assert settings.oxen_api_key is not None
    fal_upload = None
    if settings.fal_key is not None:  # fal storage gives Oxen public URLs for local files
        fal_upload = FalProvider(
            http,
            key=settings.fal_key.get_secret_value(),
            queue_url=settings.fal_queue_url,
            rest_url=settings.fal_rest_url,
            cdn_url=settings.fal_cdn_url,
        ).upload
    provider = OxenProvider(
        http,
        key=settings.oxen_api_key.get_secret_value(),
        base_url=settings.oxen_url,
        upload_repo=settings.oxen_upload_repo,
        fallback_upload=fal_upload,
    )
    # Oxen's result URLs may need the key: send it to Oxen's own host only, never to a redirect target.
    deliverer = Deliverer(
        http,
        output_dir=settings.output_dir,
        preview_dir=settings.home / "previews",
        headers_for=provider.auth_headers_for,
    )
    return provider, deliverer
