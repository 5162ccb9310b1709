"""The documented parameters of Seedance 2.0 as the assistant sees them: types, defaults, descriptions.

Every tool builds its input schema from these aliases; the facts behind them (enums, limits) live in
`seedance_mcp.server.model_facts`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, JsonValue

from seedance_mcp.server.listing import PROVIDER_KEY
from seedance_mcp.server.model_facts import (
    MAX_GENERATIONS,
    AspectRatio,
    Duration,
    Resolution,
    ResponseFormat,
    Tier,
)

PromptParam = Annotated[
    str,
    Field(
        min_length=1,
        description=(
            'The scene: subjects, action, camera moves, light, mood. Dialogue in "double quotes" is '
            "lip-synced."
        ),
    ),
]
ResolutionParam = Annotated[Resolution, Field(description='"480p" is faster and cheaper.')]
DurationParam = Annotated[
    Duration,
    Field(
        description=(
            'Seconds; "auto": the model decides (billed up to 15 s). '
            'Price scales with seconds: draft with "5".'
        )
    ),
]
AspectRatioParam = Annotated[
    AspectRatio,
    Field(description='"auto" lets the model choose from the inputs; "9:16" is portrait.'),
]
GenerateAudioParam = Annotated[
    bool,
    Field(description="Sound effects, ambience and lip-synced speech. Same price either way."),
]
SeedParam = Annotated[
    int | None,
    Field(description="Repeatable result (roughly); a new seed makes a new take."),
]
EndUserIdParam = Annotated[
    str | None,
    Field(description="Your end customer's id; only for fal B2B access."),
]
TierParam = Annotated[
    Tier | None,
    Field(description='"fast" is cheaper and quicker. Omit for the server\'s default.'),
]
WaitSecondsParam = Annotated[
    float | None,
    Field(
        ge=0,
        le=600,
        description=(
            "Wait this long, then return a job_id (0: at once). Omit for the server's default; "
            "hosts often cut calls at 60 s."
        ),
    ),
]

# Oxen.ai-only parameters (Oxen's reference-to-video page); refused on any other provider, and listed to
# hosts only while Oxen is active (the marker is read by server/listing.py).
OXEN_ONLY: dict[str, JsonValue] = {PROVIDER_KEY: "oxen"}

NumGenerationsParam = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_GENERATIONS,
        json_schema_extra=OXEN_ONLY,
        description="Videos to make, each its own job, charged separately.",
    ),
]
ResponseFormatParam = Annotated[
    ResponseFormat | None,
    Field(
        json_schema_extra=OXEN_ONLY,
        description=("Blocking call instead of the queue: one video, not cancellable."),
    ),
]
TargetNamespaceParam = Annotated[
    str | None,
    Field(
        min_length=1,
        json_schema_extra=OXEN_ONLY,
        description="Oxen user or organization to bill and save to; omit for yours.",
    ),
]
