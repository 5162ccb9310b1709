"""MCP prompts that help an assistant write good Seedance 2.0 requests.

Each prompt is a user message that sets the assistant to work with the tools this server offers,
carrying the advice of the model's own documentation: specific camera moves, lighting and action;
spoken lines in double quotes for lip-sync; reference files labelled @Image1, @Video1, @Audio1 in the
order they are passed; and 5-second drafts before longer, dearer clips. Limits and prices come from
`tools.params` and `tools.pricing`, so the advice cannot drift from what the tools enforce.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from mcp.server import MCPServer
from pydantic import Field

from ..server.catalogue.facts import (
    AUDIO_SECONDS_MAX,
    MAX_AUDIOS,
    MAX_FILES,
    MAX_IMAGES,
    MAX_VIDEOS,
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
)
from ..server.catalogue.pricing import estimate

DRAFT_SECONDS: Final = 5


def _draft_price() -> str:
    fast = estimate(tier="fast", resolution="480p", duration=str(DRAFT_SECONDS), aspect_ratio="16:9")
    full = estimate(tier="fast", resolution="720p", duration="15", aspect_ratio="16:9")
    return (
        f"a {DRAFT_SECONDS} s 480p draft costs about ${fast.max_usd:.2f}, "
        f"a 15 s 720p clip ${full.max_usd:.2f}"
    )


def writing_tips() -> str:
    """The seeds' prompt-writing advice, shared by every prompt here."""
    return "\n".join(
        [
            "How to write a Seedance 2.0 prompt:",
            "- Be specific: who is in the shot, what they do, where, the lighting and the mood.",
            "- Direct the camera in words: slow dolly in, tracking shot, crane up, handheld, rack focus, "
            "POV switch, fixed camera timelapse. One clip may hold natural cuts, up to 15 s.",
            '- Spoken lines go in double quotes for lip-synced audio: The man stopped and said: "Remember '
            'this moment." Describe sound too (rain on glass, a distant train); audio costs nothing extra.',
            "- Reference files are named by kind and position: the first image is @Image1, the second "
            "@Image2; videos @Video1...; audio @Audio1.... Say what each is for.",
            f'- Draft first: duration "{DRAFT_SECONDS}" at 480p to settle the look, then lengthen and go '
            f"720p. Prices are real ({_draft_price()}); call estimate_cost when the user cares.",
            "- Keep a seed that worked (the result shows it) to vary one thing at a time.",
        ]
    )


def storyboard(
    idea: Annotated[
        str,
        Field(
            description="The story or scene to film, in a sentence or a paragraph; may name the shots wanted."
        ),
    ],
) -> str:
    """Turn an idea into a film: plan the shots, price them, generate each from the last, stitch them."""
    return "\n\n".join(
        [
            f"Make a short film of this idea with Seedance 2.0:\n{idea}",
            "1. Plan. Unless the idea says otherwise, use 2-4 shots of 4-15 s each, all in one aspect ratio "
            '("16:9" landscape, "9:16" for phones). For each shot write: a title; the duration; the camera '
            "(framing and movement); the action; the sound, with any dialogue in double quotes; and the full "
            "prompt you will send. Each shot after the first starts where the previous one ends, so write "
            "its prompt as what happens next from that last picture. Describe recurring characters, places "
            "and props with the same words in every shot.",
            writing_tips(),
            "2. Price the film. Call estimate_cost once with `shots` (one entry per shot, with its duration, "
            "resolution and aspect_ratio) and show me the storyboard with each shot's price and the total. "
            "Wait for my go-ahead before generating anything.",
            "3. Generate shot 1 with generate_video. Then generate each next shot with generate_video and "
            "`continue_from` set to the previous shot's job_id: it starts on that video's last frame, so the "
            "shots join without a jump. If a call returns a job_id before the video is ready, call "
            "check_status with it until it is done; a shot can only continue from a finished one. Look at "
            "each contact sheet; if a shot missed, fix its prompt and generate it again before going on.",
            "4. Stitch. Call stitch_videos with all the job_ids in film order (crossfade_seconds 0 for hard "
            "cuts, or up to 1 s to dissolve). It runs locally and costs nothing.",
            "5. Show me the film: its saved path, its length, and its poster frame and contact sheet.",
            f'To save money, draft the whole film first at duration "{DRAFT_SECONDS}" and resolution "480p", '
            "then remake it at the final lengths in 720p once I like it.",
        ]
    )


def use_my_reference_files(
    folder: Annotated[
        str,
        Field(
            description=(
                "Where the files are: a folder, or the files themselves (local paths or https URLs, "
                "one per line or comma-separated)."
            )
        ),
    ],
    idea: Annotated[str, Field(description="What the video should show or do with the files.")],
) -> str:
    """Build a reference_video call from the user's own images, videos and audio, labelled correctly."""
    return "\n\n".join(
        [
            f"I want a Seedance 2.0 video of this idea:\n{idea}\n\nUse my media from:\n{folder}",
            "If that is a folder, pick the images, videos and audio in it that fit the idea (ask me if you "
            "cannot see inside it). Sort the chosen files by kind and keep their order within each kind: "
            "images (JPEG, PNG, WebP) go in image_urls, videos (MP4, MOV) in video_urls, audio (MP3, WAV) in "
            "audio_urls. The first image is @Image1, the second @Image2, and so on; likewise @Video1... and "
            "@Audio1.... Tell me which label each file got before going on.",
            f"Check the limits first: at most {MAX_IMAGES} images, {MAX_VIDEOS} videos and "
            f"{MAX_AUDIOS} audio files, {MAX_FILES} in all; reference videos together "
            f"{VIDEO_SECONDS_MIN:g}-{VIDEO_SECONDS_MAX:g} s between about 480p and 720p; audio together "
            f"at most {AUDIO_SECONDS_MAX:g} s, and only alongside at least one image or video. If something "
            "does not fit, say what and ask.",
            "Write the prompt so that every file is used by its label and says what it contributes, e.g. "
            '"The woman from @Image1 dances to the beat of @Audio1, copying the moves in @Video1, on the '
            'rooftop from @Image2." To edit a video, say what to change and what to keep ("keep all original '
            'motion").',
            writing_tips(),
            "Local paths are uploaded for you (from the folders the server allows). Call estimate_cost with "
            "the same arguments first (reference videos count their own seconds too, at 0.6x the rate), "
            f'tell me the price, then call reference_video, starting with duration "{DRAFT_SECONDS}".',
        ]
    )


PROMPTS = (
    (storyboard, "storyboard", "Storyboard a video idea"),
    (use_my_reference_files, "use_my_reference_files", "Make a video from my reference files"),
)


def register_prompts(server: MCPServer[Any]) -> None:
    """Add every prompt of this module to `server`."""
    for fn, name, title in PROMPTS:
        server.prompt(name=name, title=title, description=fn.__doc__)(fn)
