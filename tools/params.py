"""The documented parameters of Seedance 2.0 as the assistant sees them: types, defaults, descriptions.

Every tool builds its input schema from these aliases; the facts behind them (enums, limits) live in
`seedance_mcp.server.catalogue.facts`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, JsonValue
from pydantic_core import PydanticCustomError

from ..server.catalogue.facts import (
    MAX_GENERATIONS,
    SEED_MAX,
    SEED_MIN,
    AspectRatio,
    Duration,
    Resolution,
    ResponseFormat,
    Tier,
)
from ..server.tool_listing import PROVIDER_KEY

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
        description=('The scene: subjects, action, camera, light, mood; "quoted" dialogue is lip-synced.'),
    ),
]
ResolutionParam = Annotated[Resolution, Field(description='"480p" is faster and cheaper.')]
DurationParam = Annotated[
    Duration,
    Field(
        description=(
            'Seconds ("auto": the model picks; billed as 15). Price scales with seconds: draft with "5".'
        )
    ),
]
AspectRatioParam = Annotated[
    AspectRatio,
    Field(description='"auto": the model chooses from the inputs.'),
]
GenerateAudioParam = Annotated[
    bool,
    Field(description="Sound and lip-synced speech; same price either way."),
]
SeedParam = Annotated[
    int | None,
    Field(
        ge=SEED_MIN,
        le=SEED_MAX,
        description="Repeatable result (roughly); a new seed, a new take.",
    ),
]
EndUserIdParam = Annotated[
    str | None,
    Field(description="Your end customer's id (fal B2B only)."),
]
TierParam = Annotated[
    Tier | None,
    Field(description='"fast": cheaper, quicker. Default: the server\'s.'),
]
WaitSecondsParam = Annotated[
    float | None,
    Field(
        ge=0,
        le=600,
        description=("Then return a job_id (0: at once; default: the server's; hosts often stop at 60 s)."),
    ),
]

# Oxen.ai-only parameters (Oxen's reference-to-video page); refused on any other provider, and listed to
# hosts only while Oxen is active (the marker is read by server/tool_listing.py).
OXEN_ONLY: dict[str, JsonValue] = {PROVIDER_KEY: "oxen"}

NumGenerationsParam = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_GENERATIONS,
        json_schema_extra=OXEN_ONLY,
        description="Videos to make (each a job, charged).",
    ),
]
ResponseFormatParam = Annotated[
    ResponseFormat | None,
    Field(
        json_schema_extra=OXEN_ONLY,
        description="Blocking call, not the queue: one video, not cancellable.",
    ),
]
TargetNamespaceParam = Annotated[
    str | None,
    Field(
        min_length=1,
        json_schema_extra=OXEN_ONLY,
        description="Oxen user or org to bill; omit for yours.",
    ),
]
ContinueFromParam = Annotated[
    str | None,
    Field(
        description=("A shot to continue (job id or local MP4/MOV): its last frame becomes the start frame.")
    ),
]
