"""The documented parameters of Seedance 2.0 as the assistant sees them: types, defaults, descriptions.

Every tool builds its input schema from these aliases; the facts behind them (enums, limits) live in
`seedance_mcp.server.model_facts`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from seedance_mcp.server.model_facts import (
    MAX_GENERATIONS,
    SEED_MAX,
    SEED_MIN,
    AspectRatio,
    Duration,
    Resolution,
    ResponseFormat,
    Tier,
)

NOT_BLANK_PATTERN = r"\S"  # JSON Schema patterns match anywhere: one visible character


def not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank", "is only whitespace: describe the scene to generate")
    return text


PromptParam = Annotated[
    str,
    AfterValidator(not_blank),
    Field(
        min_length=1,
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
        description=(
            "Scene description. Be specific about subjects, actions, camera moves, lighting and mood. "
            'Put spoken dialogue in double quotes for lip-synced audio: The man said: "Remember this moment."'
        ),
    ),
]
ResolutionParam = Annotated[
    Resolution,
    Field(description='Video resolution: "480p" (faster, cheaper) or "720p". Default "720p".'),
]
DurationParam = Annotated[
    Duration,
    Field(
        description=(
            'Length in seconds as a string, "4" through "15", or "auto" to let the model decide. '
            'Default "auto". Price scales with seconds: start with "5" to iterate cheaply.'
        )
    ),
]
AspectRatioParam = Annotated[
    AspectRatio,
    Field(
        description=(
            'Aspect ratio: "16:9" landscape, "9:16" portrait, "1:1" square, "21:9" ultrawide, "4:3", "3:4", '
            'or "auto" to let the model choose from the inputs. Default "auto".'
        )
    ),
]
GenerateAudioParam = Annotated[
    bool,
    Field(
        description=(
            "Generate synchronized audio (sound effects, ambience, lip-synced speech). "
            "Default true. Costs the same either way."
        )
    ),
]
SeedParam = Annotated[
    int | None,
    Field(
        ge=SEED_MIN,
        le=SEED_MAX,
        description=(
            f"Random seed for reproducibility ({SEED_MIN} to {SEED_MAX}); results may still vary slightly. "
            "Omit for random."
        ),
    ),
]
EndUserIdParam = Annotated[
    str | None,
    Field(description="Unique id of your end customer; required for fal B2B access, otherwise omit."),
]
TierParam = Annotated[
    Tier | None,
    Field(
        description=(
            'Endpoint tier: "fast" (lower latency and cost, same quality per fal) or "standard". '
            "Omit to use the server's default (SEEDANCE_DEFAULT_TIER)."
        )
    ),
]
WaitSecondsParam = Annotated[
    float | None,
    Field(
        ge=0,
        le=600,
        description=(
            "Seconds to wait for the video before returning a job_id (0-600; 0 returns at once). "
            "Omit for the server's default (SEEDANCE_WAIT_SECONDS, 45). Hosts often cut calls at 60 s."
        ),
    ),
]

# Oxen.ai-only parameters (Oxen's reference-to-video page); refused when the provider is fal.

NumGenerationsParam = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_GENERATIONS,
        description=(
            "Oxen.ai only: how many videos to make from this one request (1-4). Each is its own job, "
            "charged separately; the answer lists them all. Default 1. Refused on fal."
        ),
    ),
]
ResponseFormatParam = Annotated[
    ResponseFormat | None,
    Field(
        description=(
            'Oxen.ai only: "url" or "b64_json" uses Oxen\'s blocking generate endpoint instead of its queue '
            "(the video is saved either way; cannot be cancelled; one video only). Omit to use the queue. "
            "Refused on fal."
        )
    ),
]
TargetNamespaceParam = Annotated[
    str | None,
    Field(
        min_length=1,
        description=(
            "Oxen.ai only: the namespace (your user or an organization) to save results in and bill to. "
            "Omit for the key's own user. Refused on fal."
        ),
    ),
]
ContinueFromParam = Annotated[
    str | None,
    Field(
        description=(
            "Continue a previous shot: a job id (from this server) or a local MP4/MOV path. Its last frame, "
            "at full resolution, becomes the start frame (instead of image_url), so the new shot follows on."
        )
    ),
]
