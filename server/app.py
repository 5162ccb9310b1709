"""Builds the MCP server: the one place that wires the tools to the machinery.

`create_server(settings)` returns a ready `MCPServer`; nothing starts until a transport runs it.
A start answers `initialize` and `tools/list` before anything slow happens: the tool list comes from
the list kept by an earlier start (`server/tool_list_cache.py`) when there is one, and the tools
themselves are built (their modules imported, their schemas derived) after it has gone out, or by the
first call that needs them. A background task of the lifespan then opens the shared HTTP client, the
journal, the provider (starting the embedded simulator when no key is set) and the job manager
(`server/opening.py`), and resumes every unfinished job. Tool calls and resource reads wait for that
(`AppState.opened`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import Icon
from mcp.types import Tool as MCPTool
from pydantic import AnyUrl, ValidationError

from .. import tools
from ..tools.host_cancel import record_host_cancels
from ..tools.job_card import JobCard, app_only
from ..tools.models_resource import register_models_resource
from ..tools.prompts import register_prompts
from ..tools.resources import register_resources, register_spend_resource
from . import __version__
from .arguments import UnknownArguments, checked_arguments, closed, explain_validation
from .catalogue.endpoints import api_of
from .config import Settings
from .state import AppState, StartupError
from .tool_list_cache import SHIPPED, ToolListCache
from .tool_listing import compact_tool
from .web.team import TeamWiring

log = logging.getLogger(__name__)

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

# One module per tool under tools/, imported when the tools are built. `follow_job` and `confirm_spend`
# are the job card's: hosts hide them from the model, and clients without MCP Apps are never shown them.
TOOL_MODULES = (
    "generate_video",
    "reference_video",
    "check_status",
    "estimate_cost",
    "list_jobs",
    "cancel_job",
    "stitch_videos",
    "follow_job",
    "confirm_spend",
)
# The code the tool list is made from, for the list cache's digest.
SOURCES = (Path(__file__).parent, *map(Path, tools.__path__))


class SeedanceServer(MCPServer[AppState]):
    """An MCPServer whose tools refuse unknown arguments, with errors like the rest (field, limit, fix),
    whose tool list is written compactly, with the active provider's parameters only
    (`server/tool_listing.py`), and whose tools are built when first needed (see the module's docstring)."""

    provider: str = "simulator"  # set by create_server
    list_cache: ToolListCache | None = None  # set by create_server
    running: AppState | None = None  # the state of the running lifespan, told when tools are listed
    _build: Callable[[], None] | None = None  # builds the tools; None once built
    _listed: list[MCPTool] | None = None  # the list made from the built tools (they do not change)
    _full: dict[str, MCPTool] | None = None  # the built tools by name, every provider's parameters included
    _shown: dict[str, list[str]] | None = None  # each tool's arguments listed for the active provider

    def state(self) -> AppState:
        """The running server's state; resource reads and tool calls have waited for it to open."""
        assert self.running is not None, "read only while the server runs"
        return self.running

    def tools_from(self, build: Callable[[], None]) -> None:
        """Build the tools with `build` when they are first needed."""
        self._build = build

    def build_tools(self) -> None:
        if self._build is not None:
            build, self._build = self._build, None
            build()

    async def list_tools(self) -> list[MCPTool]:
        listed = self._listed
        if listed is None and self._build is not None and self.list_cache is not None:
            listed = self.list_cache.load()
        if listed is None:
            await self._full_tools()
            assert self._listed is not None
            listed = self._listed
        if self.running is not None:
            self.running.listed()
        return listed

    async def _full_tools(self) -> dict[str, MCPTool]:
        """The built tools as the SDK lists them, their input schemas closed to undeclared arguments; the
        list made from them and each tool's listed argument names are made once with them."""
        if self._full is None:
            self.build_tools()
            full = [
                tool.model_copy(update={"input_schema": closed(tool.input_schema)})
                for tool in await super().list_tools()
            ]
            self._listed = [compact_tool(tool, self.provider) for tool in full]
            if self.list_cache is not None:
                self.list_cache.save(self._listed)  # once a process: for the next start
            self._shown = {t.name: list(t.input_schema.get("properties", {})) for t in self._listed}
            self._full = {tool.name: tool for tool in full}
        return self._full

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> Any:
        full = await self._full_tools()
        tool = full.get(name)
        if tool is None:
            names = sorted(
                n for n, t in full.items() if not app_only(t.meta)
            )  # the card's are not the model's
            raise ToolError(f"Unknown tool: {name}. This server's tools are: {', '.join(names)}.")
        assert self._shown is not None
        shown = self._shown[name]  # offered in refusals: the arguments listed for the active provider
        try:
            arguments = checked_arguments(name, tool.input_schema, arguments, shown)
            if context is not None:  # the first call waits for the journal and provider to open
                await context.request_context.lifespan_context.opened()
            return await super().call_tool(name, arguments, context)
        except UnknownArguments as exc:
            raise ToolError(str(exc)) from None
        except StartupError as exc:
            raise ToolError(str(exc)) from exc
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(explain_validation(name, exc.__cause__, shown)) from exc.__cause__
            raise

    async def read_resource(self, uri: AnyUrl | str, context: Context[AppState, Any] | None = None) -> Any:
        if context is not None:
            try:
                await context.request_context.lifespan_context.opened()
            except StartupError as exc:
                raise ResourceError(str(exc)) from exc
        return await super().read_resource(uri, context)


def create_server(settings: Settings, *, unusable: str | None = None) -> SeedanceServer:
    """The server for `settings`. With `unusable` (a setting that did not parse, with its fix), it still
    starts and lists its tools, so the host shows the reason: every call answers with it, nothing opens."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        # Yield at once so `initialize` and `tools/list` are answered before the rest opens.
        state = server.running = AppState(settings=settings)
        if unusable is not None:
            state.fail(unusable)
            yield state
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(_open_when_wanted, server, state, team)
            tg.start_soon(team.watch_health)
            tg.start_soon(team.read_webhook_keys)
            yield state
            tg.cancel_scope.cancel()

    job_card = JobCard(settings)  # MCP Apps: the live job card (its tool is `follow_job`)
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
        middleware=[job_card.hide_app_only_tools, record_host_cancels],
        request_state_security=team.request_state_security(),
    )
    server.provider = api_of(settings.provider)  # whose parameters are listed
    if unusable is None:  # stand-in settings must not write the list cache where the real ones would not
        server.list_cache = ToolListCache(settings.home / "cache", settings.provider, SOURCES, SHIPPED)

    async def opened() -> None:
        if server.running is not None:
            await server.running.opened()

    team.opened = opened
    team.add_routes(server)
    server.tools_from(lambda: _add_tools(server))
    register_resources(server)
    register_models_resource(server, settings)
    register_spend_resource(server, server.state)
    register_prompts(server)
    return server


def _add_tools(server: SeedanceServer) -> None:
    for name in TOOL_MODULES:
        module = importlib.import_module(f"{tools.__name__}.{name}")
        server.add_tool(
            getattr(module, module.NAME),
            name=module.NAME,
            title=module.TITLE,
            description=module.DESCRIPTION,
            annotations=module.ANNOTATIONS,
            meta=getattr(module, "META", None),
            icons=TOOL_ICONS,
        )


async def _open_when_wanted(server: SeedanceServer, state: AppState, team: TeamWiring) -> None:
    await state.wanted(within=OPEN_AFTER_SECONDS, after_listing=OPEN_AFTER_LISTING_SECONDS)
    server.build_tools()  # the list may have come from the cache: build them before the first call
    from .opening import open_and_hold  # slow to import: after the tool list

    try:
        await open_and_hold(state, team)
    except Exception:  # never out into the lifespan: the server would answer every request with a 500
        log.exception("the server's background work stopped")
        state.fail("The server hit an internal error and stopped working; restart it.")
