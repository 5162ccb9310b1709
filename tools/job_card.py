"""The job card: an MCP Apps view (`io.modelcontextprotocol/ui`) that follows a video job, then plays it.

Hosts that render Apps show `job_card.html` beside the answers of the tools that set `META = BOUND`.
The card keeps following the job after the host's tool call returned through `follow_job`, a tool
only the card may call (visibility `app`): hosts hide it from the model, and clients that did not
negotiate Apps are not even shown it, so the model's tool list does not grow. Answers stay complete
without the card (text, poster, contact sheet, structured content): Apps hosts get the same plus the card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
from mcp.server.apps import Apps, ResourceCsp, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from seedance_mcp.server.config import FAL_CDN_URL, OXEN_URL, Settings
from seedance_mcp.server.jobs import SETTLED
from seedance_mcp.server.journal import JobRecord
from seedance_mcp.tools.results import ToolContext, VideoJobResult, app_state, render, to_result, tool_errors

URI = "ui://seedance/job-card.html"
# What a tool module sets as `META` so hosts show its answers in the card (the stamp `Apps.tool` makes).
BOUND: dict[str, Any] = {"ui": {"resourceUri": URI}}

FOLLOW_NAME = "follow_job"
FOLLOW_MAX_SECONDS = 20.0  # short: the card polls again, and hosts end long calls
STEP_SECONDS = 1.0  # how often a follow call looks for news

# Where finished videos are served from, so the card's <video> may load them (CSP media-src/img-src).
# The CDN hosts are also named one by one for hosts that do not take wildcards.
FAL_MEDIA = ("https://fal.media", "https://*.fal.media", "https://v3.fal.media", "https://v3b.fal.media")
OXEN_MEDIA = ("https://hub.oxen.ai", "https://*.oxen.ai")
# The embedded simulator listens on 127.0.0.1 on a port chosen when the server starts.
SIMULATOR_MEDIA = ("http://127.0.0.1:*",)

HTML = (Path(__file__).with_name("job_card.html")).read_text(encoding="utf-8")


class CardRequest(BaseModel):
    """What the job was asked for, so the card can show it and ask for it again with a new seed."""

    tool: str
    prompt: str | None = None
    resolution: str | None = None
    duration: str | None = None
    again: dict[str, Any] = Field(description="Arguments for the same tool that repeat the job (minus seed).")


class JobCardResult(VideoJobResult):
    """`check_status`'s result plus the job's request."""

    # Inlined like VideoJobResult.video: some hosts do not resolve $ref in tool schemas.
    request: Annotated[
        CardRequest | None,
        WithJsonSchema({"anyOf": [CardRequest.model_json_schema(), {"type": "null"}]}),
    ] = None


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


async def follow_job(
    ctx: ToolContext,
    job_id: Annotated[str, Field(min_length=1, description="The job the card shows.")],
    wait_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=FOLLOW_MAX_SECONDS,
            description="Wait up to this long for news.",
        ),
    ] = 5.0,
) -> Annotated[CallToolResult, JobCardResult]:
    state = app_state(ctx)
    async with tool_errors():  # check_status's answer, but back as soon as the card has news
        record = await state.jobs.get(job_id)
        shown = _shown(record)
        deadline = anyio.current_time() + wait_seconds
        while record.state not in SETTLED and _shown(record) == shown and anyio.current_time() < deadline:
            step_end = min(deadline, anyio.current_time() + STEP_SECONDS)
            # Not flow.wait: a card that closes (its call cancelled) must not cancel the job.
            record = await state.jobs.wait(job_id, step_end - anyio.current_time())
            if record.state not in SETTLED:
                await anyio.sleep_until(step_end)  # back early only when nobody follows the job
        answer = render(to_result(record, state), state)
    arguments = record.arguments
    again = {k: v for k, v in arguments.items() if k != "seed"} | {"tier": record.tier}
    request = CardRequest(
        tool=record.tool,
        prompt=arguments.get("prompt"),
        resolution=_text(arguments.get("resolution")),
        duration=_text(arguments.get("duration")),
        again=again,
    )
    structured = dict(answer.structured_content or {})
    structured["request"] = request.model_dump(mode="json")
    return CallToolResult(content=answer.content, structured_content=structured)


def _shown(record: JobRecord) -> tuple[Any, ...]:
    """What the card shows that the job itself changes."""
    return record.state, record.queue_position, record.logs[-1:]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class JobCard(Apps):
    """The Apps extension of this server: the card resource and its app-only follow tool."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.add_html_resource(
            URI,
            HTML,
            name="job-card",
            title="Video job card",
            description="Follows a Seedance job live, then plays the video with its facts and next steps.",
            csp=ResourceCsp(resource_domains=media_domains(settings)),
            prefers_border=True,
        )
        self.tool(
            resource_uri=URI,
            visibility=["app"],
            name=FOLLOW_NAME,
            title="Follow a video job (card)",
            description="For the job card only: a job's state, waiting briefly for it to end.",
            annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True),
        )(follow_job)

    async def hide_app_only_tools(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Middleware: a client without Apps lists tools for its model, so app-only tools are left out."""
        result = await call_next(ctx)  # the wire form: a dict
        if ctx.method == "tools/list" and isinstance(result, dict) and not client_supports_apps(ctx):
            result = {**result, "tools": [t for t in result.get("tools", []) if not _app_only(t)]}
        return result


def _app_only(tool: dict[str, Any]) -> bool:
    ui = (tool.get("_meta") or {}).get("ui")
    return isinstance(ui, dict) and "model" not in ui.get("visibility", ["model"])
