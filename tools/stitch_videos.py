"""`stitch_videos`: join finished shots into one film, locally. No provider call, no money."""

from __future__ import annotations

import hashlib
import stat
import threading
from pathlib import Path
from typing import Annotated

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.types import CallToolResult, ContentBlock, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from ..server.catalogue.facts import AspectRatio
from ..server.delivery.video_names import safe_target, slugify
from ..server.errors import ConfigError, InputError
from ..server.film.limits import LIMITS_TEXT, MAX_CLIPS
from ..server.film.stitch import MAX_CROSSFADE_SECONDS, ClipInput, Film, stitch
from ..server.media.finished_videos import SourceVideo, find_video
from .results import (
    ToolContext,
    VideoFacts,
    app_state,
    describe_video,
    preview_images,
    saved_video_link,
    tool_errors,
)

NAME = "stitch_videos"
TITLE = "Join shots into one film"
DESCRIPTION = f"""Join finished clips (job ids or local MP4/MOV paths), in order, into one MP4 film \
in the output folder: sizes, frame rates and audio matched, optional crossfade. Local, free. \
Limits: {LIMITS_TEXT}. For a film: generate shot 1, each next shot with \
continue_from = the previous job id, then stitch them."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class StitchedClip(BaseModel):
    source: str = Field(description="The job id or path as given.")
    label: str = Field(description='"job sd_…" or the file name.')
    seconds: float
    width: int
    height: int
    has_audio: bool


class StitchResult(BaseModel):
    film_path: str = Field(description="Where the film was saved on this computer.")
    video: Annotated[
        VideoFacts | None, WithJsonSchema({"anyOf": [VideoFacts.model_json_schema(), {"type": "null"}]})
    ] = Field(default=None, description="Facts of the saved film, read from the file.")
    clips: Annotated[
        list[StitchedClip], WithJsonSchema({"type": "array", "items": StitchedClip.model_json_schema()})
    ]
    crossfade_seconds: float
    cost_usd: float = Field(description="Always 0: stitching runs locally.")
    reused: bool = Field(description="True when the same clips were already stitched the same way.")
    next_step: str


ClipsParam = Annotated[
    list[str],
    Field(
        min_length=2,
        max_length=MAX_CLIPS,
        description=(
            "The shots in film order: job ids of completed jobs (sd_…) and/or full paths of local MP4/MOV "
            f"files inside the allowed folders; 2 to {MAX_CLIPS}."
        ),
    ),
]
FilmAspectParam = Annotated[
    AspectRatio,
    Field(
        description=(
            '"auto" keeps the first clip\'s size; a ratio picks the Seedance size nearest to it. '
            "Other clips are scaled and padded with black."
        )
    ),
]
CrossfadeParam = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_CROSSFADE_SECONDS,
        description="Seconds each shot dissolves into the next (picture and sound), 0-1. 0 (default): cuts.",
    ),
]
TitleParam = Annotated[
    str | None, Field(max_length=200, description="Optional film title, used in the file name.")
]


async def stitch_videos(
    ctx: ToolContext,
    clips: ClipsParam,
    aspect_ratio: FilmAspectParam = "auto",
    crossfade_seconds: CrossfadeParam = 0.0,
    title: TitleParam = None,
) -> Annotated[CallToolResult, StitchResult]:
    state = app_state(ctx)
    async with tool_errors():
        sources = [
            await find_video(
                value,
                field=f"clips[{i}]",
                journal=state.jobs.journal,
                allowed_dirs=state.settings.allowed_dirs,
            )
            for i, value in enumerate(clips)
        ]
        film_id = await anyio.to_thread.run_sync(_film_id, sources, aspect_ratio, crossfade_seconds, title)
        folder = await anyio.to_thread.run_sync(_output_folder, state.settings.output_dir)
        target = safe_target(folder, f"{film_id}_{slugify(title or 'film')}.mp4")
        reused = await anyio.to_thread.run_sync(_already_made, target)
        if not reused:
            await _stitch(ctx, sources, target, aspect_ratio, crossfade_seconds, state.jobs.owner)
            await state.jobs.sweep_partials()  # what an earlier stitch killed mid-write left behind
        facts = None if not reused else state.deliverer.video_facts(film_id)
        if facts is None:
            await state.deliverer.render_preview(film_id, target)
            facts = state.deliverer.video_facts(film_id)
        result = StitchResult(
            film_path=str(target),
            video=VideoFacts.model_validate(facts) if facts else None,
            clips=[
                StitchedClip(
                    source=value,
                    label=source.label,
                    seconds=round(source.info.duration or 0.0, 3),
                    width=source.info.width or 0,
                    height=source.info.height or 0,
                    has_audio=bool(source.info.has_audio),
                )
                for value, source in zip(clips, sources, strict=True)
            ],
            crossfade_seconds=crossfade_seconds,
            cost_usd=0.0,
            reused=reused,
            next_step="Show the user the saved film. To change a shot, regenerate it and stitch again.",
        )
        content: list[ContentBlock] = [TextContent(type="text", text=_summary(result))]
        content.append(saved_video_link(target))
        content.extend(preview_images(state.deliverer.preview_paths(film_id)))
        return CallToolResult(content=content, structured_content=result.model_dump(mode="json"))


async def _stitch(
    ctx: ToolContext,
    sources: list[SourceVideo],
    target: Path,
    aspect_ratio: str,
    crossfade: float,
    owner: str,
) -> Film:
    stop = threading.Event()
    count = len(sources)

    def progress(done: int, total: int) -> None:
        message = f"Stitching {count} clips: {done} of {total} frames"
        anyio.from_thread.run(ctx.report_progress, done, total, message)

    def work() -> Film:
        return stitch(
            [ClipInput(s.path, f"clips[{i}] ({s.label})") for i, s in enumerate(sources)],
            target,
            aspect_ratio=aspect_ratio,
            crossfade=crossfade,
            progress=progress,
            stop=stop,
            owner=owner,
        )

    try:
        # Abandoned on cancel: the thread sees `stop` at its next frame and removes its temporary file.
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        raise


def _film_id(sources: list[SourceVideo], aspect_ratio: str, crossfade: float, title: str | None) -> str:
    """Names the same request the same way, so asking twice reuses the film (the tool is idempotent)."""
    digest = hashlib.sha256()
    for source in sources:
        st = source.path.stat()
        digest.update(f"{source.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    digest.update(f"{aspect_ratio}\0{crossfade}\0{title or ''}".encode())
    return "film_" + digest.hexdigest()[:16]


def _already_made(target: Path) -> bool:
    """Whether the film is there from an earlier call: a plain file of ours. Anything else at its name
    (a link planted there, a folder) is refused, never previewed nor replaced."""
    try:
        st = target.lstat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ConfigError(
            f"cannot look at {target} ({exc.strerror or exc}); check SEEDANCE_OUTPUT_DIR"
        ) from None
    if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
        return True
    raise InputError(
        "title",
        f"something that is not a film made here (a link or a folder) is at {target}; remove it, or give "
        "another title so the film gets another name",
    )


def _output_folder(output_dir: Path) -> Path:
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        return output_dir.resolve(strict=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the film into {output_dir} ({exc.strerror or exc}); free some space or point "
            "SEEDANCE_OUTPUT_DIR at a writable folder"
        ) from None


def _summary(result: StitchResult) -> str:
    joined = ", ".join(f"{c.label} ({c.seconds:.1f} s)" for c in result.clips)
    cut = f"{result.crossfade_seconds:g} s crossfades" if result.crossfade_seconds else "hard cuts"
    status = "already stitched" if result.reused else "ready"
    lines = [
        f"Film {status}: {len(result.clips)} clips joined with {cut}.",
        f"Saved to: {result.film_path}",
    ]
    if result.video:
        lines.append(f"Film: {describe_video(result.video)}")
    lines += [
        f"Clips in order: {joined}.",
        "Made locally: no provider call, nothing charged.",
        result.next_step,
    ]
    return "\n".join(lines)
