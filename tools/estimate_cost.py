"""`estimate_cost`: the price of a generation before making it, from the documented token formula."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from ..server.catalogue.facts import (
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
    AspectRatio,
    Duration,
    Resolution,
    Tier,
)
from ..server.errors import InputError
from ..server.generation.service import GenerationRequest
from ..server.state import AppState
from .results import ToolContext, app_state, inline_schema, tool_errors

NAME = "estimate_cost"
TITLE = "Estimate the price of a video"
DESCRIPTION = """Price a generate_video or reference_video call without making it: pass the same \
arguments (media checked the same way, nothing uploaded). The price with its token breakdown, or a range \
when duration or aspect_ratio is "auto". A film: pass `shots`. Free."""
FORMULA = (
    "tokens = width x height x (input video s + output s) x 24 / 1024; "
    "usd = tokens / 1000 x rate x multiplier"
)
MAX_SHOTS = 50
InputVideoSecondsParam = Annotated[
    float | None,
    Field(
        ge=VIDEO_SECONDS_MIN,
        le=VIDEO_SECONDS_MAX,
        description=(
            "Combined seconds of reference videos that cannot be measured; omit for a range over "
            f"{VIDEO_SECONDS_MIN:g}-{VIDEO_SECONDS_MAX:g} s."
        ),
    ),
]
# The generating tools' arguments, described there (the model has read them): same types, short words.
_AS_IN_GENERATE = Field(description="As in generate_video.")
_AS_IN_REFERENCE = Field(description="As in reference_video.")
ImageUrlParam = Annotated[str | None, _AS_IN_GENERATE]
EndImageUrlParam = Annotated[str | None, _AS_IN_GENERATE]
ImageUrlsParam = Annotated[list[str] | None, _AS_IN_REFERENCE]
VideoUrlsParam = Annotated[list[str] | None, _AS_IN_REFERENCE]
AudioUrlsParam = Annotated[list[str] | None, _AS_IN_REFERENCE]
ResolutionParam = Annotated[Resolution, _AS_IN_GENERATE]
DurationParam = Annotated[Duration, Field(description='As in generate_video; "auto" gives a range.')]
AspectRatioParam = Annotated[AspectRatio, Field(description='As in generate_video; "auto" gives a range.')]
GenerateAudioParam = Annotated[bool, Field(description="As in generate_video; same price either way.")]
TierParam = Annotated[Tier | None, _AS_IN_GENERATE]
ContinueFromParam = Annotated[str | None, _AS_IN_GENERATE]

ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class _Price(BaseModel):
    usd: float | None = Field(description="The price, or null when only a range can be known.")
    min_usd: float
    max_usd: float
    is_range: bool
    summary: str
    mode: str
    sizes: list[str] = Field(description="Output width x height options considered.")
    output_seconds: list[int] = Field(description="[min, max] output seconds considered.")
    input_video_seconds: list[float] = Field(description="[min, max] reference video seconds counted.")
    tokens: list[int] = Field(description="[min, max] billed tokens.")
    formula: str
    source: str
    note: str


class PriceBreakdown(_Price):
    tier: Literal["standard", "fast"]
    resolution: str
    usd_per_1k_tokens: float
    multiplier: float = Field(description="0.6 with reference videos, else 1.")


class CostEstimate(_Price):
    """One request's price; with `shots`, the film's total (its fields summed) and each shot's price."""

    tier: Literal["standard", "fast", "mixed"] = Field(description='"mixed" when a film\'s shots differ.')
    resolution: str = Field(description='"mixed" when a film\'s shots differ.')
    usd_per_1k_tokens: float | None = Field(description="Null when a film's shots use different rates.")
    multiplier: float | None = Field(description="0.6 with reference videos, else 1; null when shots differ.")
    shots: Annotated[
        list[PriceBreakdown] | None,
        WithJsonSchema(
            {"anyOf": [{"type": "array", "items": PriceBreakdown.model_json_schema()}, {"type": "null"}]}
        ),
    ] = Field(default=None, description="With `shots`: each shot's price, in order.")


class Shot(BaseModel):
    """One shot of a film, with the fields of a single request; a field left out takes the top-level value."""

    prompt: Annotated[str | None, Field(description="Optional; the price does not depend on it.")] = None
    image_url: ImageUrlParam = None
    end_image_url: EndImageUrlParam = None
    continue_from: ContinueFromParam = None
    image_urls: ImageUrlsParam = None
    video_urls: VideoUrlsParam = None
    audio_urls: AudioUrlsParam = None
    resolution: Annotated[Resolution | None, Field(description="Default: the top-level resolution.")] = None
    duration: Annotated[Duration | None, Field(description="Default: the top-level duration.")] = None
    aspect_ratio: Annotated[AspectRatio | None, Field(description="Default: the top-level aspect_ratio.")] = (
        None
    )
    generate_audio: Annotated[bool | None, Field(description="Costs the same either way.")] = None
    tier: TierParam = None
    input_video_seconds: InputVideoSecondsParam = None


ShotsParam = Annotated[
    list[Shot] | None,
    WithJsonSchema({"anyOf": [{"type": "array", "items": inline_schema(Shot)}, {"type": "null"}]}),
    Field(
        min_length=1,
        max_length=MAX_SHOTS,
        description=(
            "A whole film: one entry per shot, with the fields above (and continue_from); "
            "a field left out takes the top-level value."
        ),
    ),
]


async def estimate_cost(
    ctx: ToolContext,
    prompt: Annotated[str | None, Field(description="Optional; the price does not depend on it.")] = None,
    image_url: ImageUrlParam = None,
    end_image_url: EndImageUrlParam = None,
    image_urls: ImageUrlsParam = None,
    video_urls: VideoUrlsParam = None,
    audio_urls: AudioUrlsParam = None,
    resolution: ResolutionParam = "720p",
    duration: DurationParam = "auto",
    aspect_ratio: AspectRatioParam = "auto",
    generate_audio: GenerateAudioParam = True,
    tier: TierParam = None,
    input_video_seconds: InputVideoSecondsParam = None,
    shots: ShotsParam = None,
) -> CostEstimate:
    state = app_state(ctx)
    async with tool_errors():
        if shots is None:
            one = await _price(
                state,
                Shot(
                    prompt=prompt,
                    image_url=image_url,
                    end_image_url=end_image_url,
                    image_urls=image_urls,
                    video_urls=video_urls,
                    audio_urls=audio_urls,
                    input_video_seconds=input_video_seconds,
                ),
                resolution=resolution,
                duration=duration,
                aspect_ratio=aspect_ratio,
                generate_audio=generate_audio,
                tier=tier,
                field="",
            )
            return CostEstimate(**one.model_dump())
        given = [
            name
            for name, value in (
                ("image_url", image_url),
                ("end_image_url", end_image_url),
                ("image_urls", image_urls),
                ("video_urls", video_urls),
                ("audio_urls", audio_urls),
                ("input_video_seconds", input_video_seconds),
            )
            if value is not None
        ]
        if given:
            raise InputError(
                given[0],
                "with shots, give each shot's media inside that shot (shots[i]), not at the top level",
            )
        prices = [
            await _price(
                state,
                shot,
                resolution=shot.resolution or resolution,
                duration=shot.duration or duration,
                aspect_ratio=shot.aspect_ratio or aspect_ratio,
                generate_audio=generate_audio if shot.generate_audio is None else shot.generate_audio,
                tier=shot.tier or tier,
                field=f"shots[{i}].",
            )
            for i, shot in enumerate(shots)
        ]
        return _film_total(prices, simulated=state.settings.simulated)


async def _price(
    state: AppState,
    shot: Shot,
    *,
    resolution: Resolution,
    duration: Duration,
    aspect_ratio: AspectRatio,
    generate_audio: bool,
    tier: Tier | None,
    field: str,
) -> PriceBreakdown:
    """One request's price through the server's one price function; `field` prefixes refusals (shots[i].)."""
    chosen_tier = tier or state.settings.default_tier
    is_reference = bool(shot.image_urls or shot.video_urls or shot.audio_urls)
    if is_reference and (shot.image_url or shot.end_image_url):
        frame = "image_url" if shot.image_url else "end_image_url"
        raise InputError(
            field + frame,
            f"{frame} belongs to generate_video and image_urls/video_urls/audio_urls to reference_video; "
            "no single call takes both. Price one tool's arguments at a time.",
        )
    request = GenerationRequest(
        tool="reference_video" if is_reference else "generate_video",
        prompt=shot.prompt or "",
        tier=chosen_tier,
        resolution=resolution,
        duration=duration,
        aspect_ratio=aspect_ratio,
        generate_audio=generate_audio,
        image_url=shot.image_url,
        end_image_url=shot.end_image_url,
        image_urls=tuple(shot.image_urls or ()),
        video_urls=tuple(shot.video_urls or ()),
        audio_urls=tuple(shot.audio_urls or ()),
        stated_video_seconds=shot.input_video_seconds,
    )
    # A shot continuing another starts on its last frame; that shot may not exist yet, and the price
    # does not depend on the frame, so it is not looked at here.
    mode = "image-to-video" if shot.continue_from and not is_reference else request.mode
    try:
        quote = await state.generations.price(request)
    except InputError as exc:
        if not field:
            raise
        raise InputError(field + exc.field, str(exc).split(": ", 1)[1]) from None
    est = quote.total
    seconds = est.input_video_seconds
    open_ends = [
        name
        for name, is_open in (
            ("duration is auto (4-15 s)", duration == "auto"),
            ("aspect_ratio is auto (any of six sizes)", aspect_ratio == "auto"),
            ("reference video length unknown (2-15 s)", seconds[0] != seconds[1]),
        )
        if is_open
    ]
    note = ("A range because " + "; ".join(open_ends) + ".") if est.is_range else "An exact price."
    note += " Audio on or off costs the same."
    note += "".join(f" {text}" for text in quote.notes)  # e.g. a URL that could not be measured
    if state.settings.simulated:
        note += " The server is on the simulator now: real runs need a key; simulated runs cost nothing."
    return PriceBreakdown(
        usd=est.usd,
        min_usd=est.min_usd,
        max_usd=est.max_usd,
        is_range=est.is_range,
        summary=f"{est.describe()} ({chosen_tier} {mode}, {resolution})",
        tier=chosen_tier,
        mode=mode,
        resolution=resolution,
        sizes=[f"{w}x{h}" for w, h in est.sizes],
        output_seconds=list(est.output_seconds),
        input_video_seconds=list(est.input_video_seconds),
        tokens=[est.min_tokens, est.max_tokens],
        usd_per_1k_tokens=est.rate.usd_per_1k_tokens,
        multiplier=est.multiplier,
        formula=FORMULA,
        source=est.rate.source,
        note=note,
    )


def _film_total(prices: list[PriceBreakdown], *, simulated: bool) -> CostEstimate:
    """The film's price: every shot's numbers summed; shared settings kept, differing ones marked."""

    def shared(values: list[Any], mixed: Any) -> Any:
        return values[0] if len(set(values)) == 1 else mixed

    low, high = round(sum(p.min_usd for p in prices), 4), round(sum(p.max_usd for p in prices), 4)
    is_range = any(p.is_range for p in prices)
    count = len(prices)
    total = f"${low:.2f}-${high:.2f}" if is_range else f"${high:.2f}"
    note = f"The total of {count} shots, each priced below."
    if is_range:
        note += " A range because shot(s) " + ", ".join(
            str(i + 1) for i, p in enumerate(prices) if p.is_range
        )
        note += " have auto duration/aspect ratio or unknown reference video lengths."
    if simulated:
        note += " The server is on the simulator now: real runs need a key; simulated runs cost nothing."
    return CostEstimate(
        usd=None if is_range else high,
        min_usd=low,
        max_usd=high,
        is_range=is_range,
        summary=f"{total} for a film of {count} shot{'s' if count > 1 else ''}",
        tier=shared([p.tier for p in prices], "mixed"),
        mode=f"film of {count} shot{'s' if count > 1 else ''}",
        resolution=shared([p.resolution for p in prices], "mixed"),
        sizes=sorted({size for p in prices for size in p.sizes}),
        output_seconds=[sum(p.output_seconds[0] for p in prices), sum(p.output_seconds[1] for p in prices)],
        input_video_seconds=[
            sum(p.input_video_seconds[0] for p in prices),
            sum(p.input_video_seconds[1] for p in prices),
        ],
        tokens=[sum(p.tokens[0] for p in prices), sum(p.tokens[1] for p in prices)],
        usd_per_1k_tokens=shared([p.usd_per_1k_tokens for p in prices], None),
        multiplier=shared([p.multiplier for p in prices], None),
        formula=FORMULA,
        source="; ".join(dict.fromkeys(p.source for p in prices)),
        note=note,
        shots=prices,
    )
