"""The job card: an MCP Apps view (`io.modelcontextprotocol/ui`) that follows a video job, then plays it.

Hosts that render Apps show `job_card.html` beside the answers of the tools that set `META = BOUND`.
The card keeps following the job after the host's tool call returned through `follow_job`, a tool
only the card may call (visibility `app`): hosts hide it from the model, and clients that did not
negotiate Apps are not even shown it, so the model's tool list does not grow. Answers stay complete
without the card (text, poster, contact sheet, structured content): Apps hosts get the same plus the card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp.server.apps import Apps, ResourceCsp, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..server.config import FAL_CDN_URL, OXEN_URL, Settings

URI = "ui://seedance/job-card.html"
# What a tool module sets as `META` so hosts show its answers in the card (the stamp `Apps.tool` makes).
BOUND: dict[str, Any] = {"ui": {"resourceUri": URI}}

# The card's own tool (`tools/follow_job.py`): hosts hide it from the model (visibility `app`).
FOLLOW_NAME = "follow_job"
FOLLOW_META: dict[str, Any] = {"ui": {"resourceUri": URI, "visibility": ["app"]}}

# Where finished videos are served from, so the card's <video> may load them (CSP media-src/img-src).
# The CDN hosts are also named one by one for hosts that do not take wildcards.
FAL_MEDIA = ("https://fal.media", "https://*.fal.media", "https://v3.fal.media", "https://v3b.fal.media")
OXEN_MEDIA = ("https://hub.oxen.ai", "https://*.oxen.ai")
# The embedded simulator listens on 127.0.0.1 on a port chosen when the server starts.
SIMULATOR_MEDIA = ("http://127.0.0.1:*",)

THEME_MARK = "/* card_theme.css: colours, fonts, light and dark, shared by the App pages */"


def _page(name: str) -> str:
    """An App page with the shared theme written into it: a page must be self-contained (its CSP)."""
    folder = Path(__file__).parent
    theme = (folder / "card_theme.css").read_text(encoding="utf-8")
    return (folder / name).read_text(encoding="utf-8").replace(THEME_MARK, theme.strip())


HTML = _page("job_card.html")

# The gallery of `list_jobs` (posters, a filter by state, spend per day), under the same CSP.
GALLERY_URI = "ui://seedance/gallery.html"
GALLERY: dict[str, Any] = {"ui": {"resourceUri": GALLERY_URI}}
GALLERY_HTML = _page("gallery.html")


def media_domains(settings: Settings) -> list[str]:
    """The origins a finished video (or its poster) may come from, for this server's provider."""
    domains = [*FAL_MEDIA, *OXEN_MEDIA]
    for url in (settings.fal_cdn_url, settings.oxen_url):
        if url not in (FAL_CDN_URL, OXEN_URL):  # a configured endpoint serves its own files
            parts = urlsplit(url)
            domains.append(f"{parts.scheme}://{parts.netloc}")
    if settings.simulated:
        domains.extend(SIMULATOR_MEDIA)
    return list(dict.fromkeys(domains))


class JobCard(Apps):
    """The Apps extension of this server: the card and the gallery; the card's own tools are
    `tools/follow_job.py` and `tools/confirm_spend.py`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        csp = ResourceCsp(resource_domains=media_domains(settings))
        self.add_html_resource(
            URI,
            HTML,
            name="job-card",
            title="Video job card",
            description="Follows a Seedance job live, then plays the video with its facts and next steps.",
            csp=csp,
            prefers_border=True,
        )
        self.add_html_resource(
            GALLERY_URI,
            GALLERY_HTML,
            name="job-gallery",
            title="Video jobs",
            description="Every listed job as a poster, filtered by state, played in place; spend per day.",
            csp=csp,
            prefers_border=True,
        )

    async def hide_app_only_tools(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Middleware: a client without Apps lists tools for its model, so app-only tools are left out
        (and `refuse_without_apps` refuses them when called anyway)."""
        result = await call_next(ctx)  # the wire form: a dict
        if ctx.method == "tools/list" and isinstance(result, dict) and not client_supports_apps(ctx):
            result = {**result, "tools": [t for t in result.get("tools", []) if not app_only(t.get("_meta"))]}
        return result


def refuse_without_apps(
    ctx: Context[Any, Any], name: str, instead: str = "call check_status with the job id instead"
) -> None:
    """The first line of every app-only tool: a client that did not negotiate MCP Apps at initialize
    has no card, so its model is refused (the tool is hidden from it, but may be called by name)."""
    if not client_supports_apps(ctx):
        raise ToolError(
            f"{name} belongs to the job card of hosts that show MCP Apps, and this client did not say it "
            f"shows them: {instead}"
        )


def app_only(meta: dict[str, Any] | None) -> bool:
    """Whether a tool with this `_meta` is for the card alone (visibility without "model")."""
    ui = (meta or {}).get("ui")
    return isinstance(ui, dict) and "model" not in ui.get("visibility", ["model"])
