"""What the generating tools and `check_status` answer: one result model, rendered for people and models.

Every answer carries the structured `VideoJobResult` (matching the tools' `outputSchema`) and content
blocks: a text summary, links to the saved file and the remote URL, and — once the video exists — a
poster frame and a contact sheet the assistant can look at.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, Field, ValidationError, WithJsonSchema

from ..server.catalogue.pricing import token_count
from ..server.errors import SeedanceError
from ..server.generation.drafts import when
from ..server.journal.sqlite import JobRecord
from ..server.state import AppState

JobStateName = Literal["submitting", "uncertain", "queued", "running", "completed", "failed", "cancelled"]
# What a generating tool's answer may say: a job's state, or a request held for the person's yes.
AnswerStateName = Literal[
    "awaiting_confirmation",
    "submitting",
    "uncertain",
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
]

SIMULATED_NOTE = (
    "SIMULATED: made by seedance-mcp's offline simulator, not by Seedance; nothing was charged. "
    "Set FAL_KEY or OXEN_API_KEY for real videos."
)


class VideoFacts(BaseModel):
    """What the saved video turned out to be, read from the file itself."""

    duration: float | None = Field(default=None, description="Seconds.")
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    has_audio: bool | None = None
    bytes: int = Field(description="File size in bytes.")


# Inlined rather than referenced: some hosts do not resolve $ref in tool schemas.
_VIDEO_FACTS_SCHEMA: dict[str, Any] = {"anyOf": [VideoFacts.model_json_schema(), {"type": "null"}]}


class ConfirmationOffer(BaseModel):
    """A paid request the job card holds until the person presses Generate or Drop."""

    what: str = Field(description="What will be made: tier, mode, size, length, sound.")
    min_usd: float
    max_usd: float = Field(description="What the limits count: the price, or its upper bound.")
    is_range: bool = Field(description="True when the price is a range (auto duration or aspect ratio).")
    threshold_usd: float = Field(description="SEEDANCE_CONFIRM_ABOVE_USD, which this request is above.")
    expires_at: str = Field(description="When the unconfirmed request lapses, never paid (ISO 8601, UTC).")
    expires_in_seconds: float


_OFFER_SCHEMA: dict[str, Any] = {"anyOf": [ConfirmationOffer.model_json_schema(), {"type": "null"}]}


class VideoJobResult(BaseModel):
    """A video job as the assistant sees it."""

    job_id: str = Field(
        description="Pass to check_status to keep waiting, or to cancel_job (while awaiting_confirmation: "
        "the held request's id, not a job yet)."
    )
    state: AnswerStateName
    done: bool = Field(description="True when the job has ended (completed, failed or cancelled).")
    simulated: bool = Field(description="True when the offline simulator made it: not a real Seedance video.")
    provider: str
    endpoint: str
    mode: str
    tier: str
    queue_position: int | None = None
    elapsed_seconds: float
    video_url: str | None = Field(
        default=None, description="Provider URL of the video (expires, ~1 h on fal)."
    )
    video_path: str | None = Field(default=None, description="Where the video was saved on this computer.")
    saved: bool | None = Field(
        default=None, description="False: finished but not saved yet (see save_error); the server retries."
    )
    save_error: str | None = None
    video_sha256: str | None = None
    video: Annotated[VideoFacts | None, WithJsonSchema(_VIDEO_FACTS_SCHEMA)] = Field(
        default=None, description="Facts of the saved video, once it exists."
    )
    seed: int | None = None
    estimated_cost_usd: float = Field(
        description="Estimated price (upper bound when duration/aspect was auto)."
    )
    cost_note: str
    made_cost_usd: float | None = Field(
        default=None, description="Once done: the price at the video's size and length, where a range stood."
    )
    estimate_is_range: bool = Field(
        default=False, description="True: estimated_cost_usd is an upper bound (auto duration or aspect)."
    )
    error: str | None = None
    error_type: str | None = Field(default=None, description="The provider's kind of failure, when it says.")
    logs: list[str] = Field(default_factory=list, description="The provider's latest log lines.")
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(
        default_factory=list,
        description="How the request was read, e.g. which frame a continued shot starts on.",
    )
    next_step: str
    confirmation: Annotated[ConfirmationOffer | None, WithJsonSchema(_OFFER_SCHEMA)] = Field(
        default=None, description="With state awaiting_confirmation: what the job card asks the person."
    )
    draft_expires_at: str | None = Field(
        default=None, description="A draft: until when generate_video's finish_draft can finish it (UTC)."
    )
    finished_from: str | None = Field(default=None, description="The draft job this job finished.")
    group: list[dict[str, Any]] | None = Field(
        default=None,
        description="When one call made several videos (Oxen.ai): every job, each like this result.",
    )


ToolContext = Context[AppState, Any]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with every `$ref` replaced by its definition: strict hosts resolve none."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def app_state(ctx: ToolContext) -> AppState:
    return ctx.request_context.lifespan_context


@asynccontextmanager
async def tool_errors() -> AsyncIterator[None]:
    """Turn every anticipated failure into a ToolError whose text the model can act on."""
    try:
        yield
    except SeedanceError as exc:
        raise ToolError(str(exc)) from exc


def to_result(record: JobRecord, state: AppState, *, warnings: tuple[str, ...] = ()) -> VideoJobResult:
    done = record.state in {"completed", "failed", "cancelled"}
    end = record.finished_at or time.time()
    url_only = record.state == "completed" and not record.video_path and not state.settings.save_videos
    if record.state == "completed" and record.draft_expires is not None:
        next_step = (
            f"A {record.estimate.get('resolution', 'low-resolution')} draft. Show it to the user; for the "
            f"full take call generate_video with finish_draft '{record.id}' and the same prompt before "
            f"{when(record.draft_expires)}."
        )
    elif record.state == "completed" and record.video_path:
        next_step = "Done. Show the user the saved file; to iterate, change the prompt and generate again."
    elif url_only:
        next_step = (
            "Done. This server keeps videos as URLs only (SEEDANCE_SAVE_VIDEOS=false): give the user the "
            "video URL and tell them to download it soon, as it expires."
        )
    elif record.state == "completed":
        retry = (
            f"The server tries again; call check_status with job_id '{record.id}' to try now."
            if record.next_save_at is not None
            else "It will not be tried again."
        )
        next_step = (
            f"The video is ready but was not saved ({record.save_error or 'no file'}). Give the user the "
            f"video URL (it expires), and tell them what to fix. {retry}"
        )
    elif record.state in {"failed", "cancelled"}:
        next_step = _ended_step(record)
    elif record.state == "uncertain":
        next_step = (
            "Possibly charged: the submit's answer was lost. Have the user check the provider's dashboard; "
            "if the job is not there, call the tool again with the same arguments to submit it again."
        )
    elif record.provider != state.jobs.provider_label:
        next_step = (
            f"This job runs on {record.provider}, but this server now uses {state.jobs.provider_label}, so "
            f"nobody is following it: restart the server with the {record.provider} key set to collect it."
        )
    else:
        next_step = (
            f"Still working. Call check_status with job_id '{record.id}' to keep waiting; "
            "the server keeps following the job meanwhile."
        )
    estimate = record.estimate
    facts = _facts(record, state)
    made = made_cost(record, facts)
    cost_note = str(estimate.get("summary", f"${record.estimate_usd:.4f}"))
    if made is not None and facts is not None:
        cost_note = (
            f"${made:.4f} for the {facts.width}x{facts.height}, {facts.duration:.0f} s video made "
            f"(estimated {cost_note} before)"
        )
    if record.simulated:
        cost_note += " (simulated: nothing charged)"
    elif record.state == "uncertain" and record.request_id is None:
        cost_note += " (possibly charged: not counted as certain spend)"
    return VideoJobResult(
        job_id=record.id,
        state=record.state,
        done=done,
        simulated=record.simulated,
        provider=record.provider,
        endpoint=record.endpoint,
        mode=record.mode,
        tier=record.tier,
        queue_position=record.queue_position if record.state == "queued" else None,
        elapsed_seconds=round(end - record.created_at, 1),
        video_url=record.result_url,
        video_path=record.video_path,
        saved=None if url_only else record.saved,  # not saved by choice: nothing to retry
        save_error=record.save_error,
        video_sha256=record.video_sha256,
        video=facts,
        seed=record.seed,
        estimated_cost_usd=record.estimate_usd,
        estimate_is_range=estimate.get("min_usd", record.estimate_usd) != record.estimate_usd,
        made_cost_usd=made,
        cost_note=cost_note,
        error=record.error,
        error_type=record.error_type,
        logs=record.logs[-5:],
        warnings=list(warnings),
        next_step=next_step,
        draft_expires_at=None if record.draft_expires is None else when(record.draft_expires),
        finished_from=record.finished_from,
    )


def made_cost(record: JobRecord, facts: VideoFacts | None) -> float | None:
    """The price of the video as made, where a range (auto length or shape) left it open before: the
    token formula at the video's own size and length. None where the range remains (reference videos of
    unknown length, a provider with its own per-second price) or there was no range."""
    estimate = record.estimate
    low, high = estimate.get("min_usd"), estimate.get("max_usd")
    seconds_in = estimate.get("input_video_seconds", [0.0, 0.0])
    rate, multiplier = estimate.get("usd_per_1k_tokens"), estimate.get("multiplier", 1.0)
    if facts is None or not (facts.width and facts.height and facts.duration) or rate is None:
        return None
    if low == high or seconds_in[0] != seconds_in[1] or record.provider == "oxen":
        return None
    tokens = token_count(facts.width, facts.height, float(seconds_in[0]) + round(facts.duration))
    return round(tokens / 1000 * float(rate) * float(multiplier), 4)


def refused_content(record: JobRecord) -> bool:
    """Whether the provider refused the request's content: a new seed will not get past it."""
    return "content_policy" in (record.error_type or "")


def _ended_step(record: JobRecord) -> str:
    """What to do after a job that failed or was cancelled, by what happened (the error says the rest)."""
    if record.state == "cancelled":
        return (
            "The job was cancelled before it started, so nothing was charged and there is nothing to fix. "
            "Generate again only if the user still wants it."
        )
    if refused_content(record):
        return (
            "The provider's content policy refused this prompt or its media; the same request, with any "
            "seed, will be refused again. Suggest a rephrased prompt (or other media) and generate with it."
        )
    return "Nothing more will happen with this job; change what the error names, then generate again."


def _facts(record: JobRecord, state: AppState) -> VideoFacts | None:
    if record.state != "completed" or not record.video_path:
        return None
    facts = state.deliverer.video_facts(record.id)
    try:
        return VideoFacts.model_validate(facts) if facts else None
    except ValidationError:  # a damaged side file costs the facts, never the answer
        return None


def describe_video(facts: VideoFacts) -> str:
    """'5.0 s, 1280x720, 24 fps, with audio, 2.1 MB'"""
    parts = []
    if facts.duration is not None:
        parts.append(f"{facts.duration:.1f} s")
    if facts.width and facts.height:
        parts.append(f"{facts.width}x{facts.height}")
    if facts.fps:
        parts.append(f"{facts.fps:g} fps")
    if facts.has_audio is not None:
        parts.append("with audio" if facts.has_audio else "no audio")
    parts.append(f"{facts.bytes / 1e6:.1f} MB")
    return ", ".join(parts)


def summary_text(result: VideoJobResult) -> str:
    lines = []
    if result.simulated:
        lines.append(SIMULATED_NOTE)
    what = f"{result.tier} {result.mode}"
    if result.state == "completed":
        lines.append(f"Video ready ({what}), job {result.job_id}.")
        if result.video_path:
            lines.append(f"Saved to: {result.video_path}")
        elif result.saved is False:
            lines.append(f"Not saved: {result.save_error}")
        if result.video:
            lines.append(f"Video: {describe_video(result.video)}")
        if result.video_url:
            lines.append(f"URL: {result.video_url}")
        if result.seed is not None:
            lines.append(f"Seed: {result.seed}")
        if result.draft_expires_at:
            lines.append(f"Draft: finishable until {result.draft_expires_at}.")
    elif result.state == "failed":
        lines.append(f"Job {result.job_id} failed: {result.error}")
    elif result.state == "cancelled":
        lines.append(f"Job {result.job_id} was cancelled.")
    else:
        where = f", queue position {result.queue_position}" if result.queue_position is not None else ""
        lines.append(f"Job {result.job_id} is {result.state}{where} after {result.elapsed_seconds:.0f} s.")
    if result.error and result.state == "completed":
        lines.append(result.error)
    if result.finished_from:
        lines.append(f"Finished from draft {result.finished_from}.")
    lines.append(f"Cost: {result.cost_note}. Provider: {result.provider}.")
    lines.extend(f"Warning: {w}" for w in result.warnings)
    lines.append(result.next_step)
    return "\n".join(lines)


def with_note(answer: CallToolResult, note: str) -> CallToolResult:
    """`answer` with `note` added to its notes and as the first line of its text."""
    content = list(answer.content)
    if content and isinstance(content[0], TextContent):
        content[0] = TextContent(type="text", text=f"{note[:1].upper()}{note[1:]}.\n{content[0].text}")
    structured = dict(answer.structured_content or {})
    structured["notes"] = [*structured.get("notes", []), note]
    return answer.model_copy(update={"content": content, "structured_content": structured})


def saved_video_link(path: Path) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=path.as_uri(),
        name=path.name,
        title="Saved video",
        mime_type="video/mp4",
        size=path.stat().st_size if path.exists() else None,
    )


def preview_images(paths: tuple[Path, ...]) -> list[ContentBlock]:
    """The poster frame and contact sheet that exist among `paths`, as images the assistant can see."""
    return [
        ImageContent(type="image", data=base64.b64encode(path.read_bytes()).decode(), mime_type="image/jpeg")
        for path in paths
        if path.exists()
    ]


async def answer(record: JobRecord, state: AppState, *, warnings: tuple[str, ...] = ()) -> CallToolResult:
    """`record` as a tool's answer, with the video's poster, contact sheet and facts once it is saved."""
    await ensure_preview(record, state)
    return render(to_result(record, state, warnings=warnings), state)


async def ensure_preview(record: JobRecord, state: AppState) -> None:
    """A saved video's preview, made by this process if it has none (another replica saved the video)."""
    if record.state == "completed" and record.video_path:
        await state.deliverer.ensure_preview(record.id, Path(record.video_path))


def render(result: VideoJobResult, state: AppState) -> CallToolResult:
    content: list[ContentBlock] = [TextContent(type="text", text=summary_text(result))]
    if result.video_path:
        content.append(saved_video_link(Path(result.video_path)))
    if result.video_url:
        content.append(
            ResourceLink(
                type="resource_link",
                uri=result.video_url,
                name="video.mp4",
                title="Video at the provider (expires)",
                mime_type="video/mp4",
            )
        )
    if result.state == "completed":
        content.extend(preview_images(state.deliverer.preview_paths(result.job_id)))
    structured: dict[str, Any] = result.model_dump(mode="json")
    return CallToolResult(content=content, structured_content=structured)
