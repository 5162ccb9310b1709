"""`estimate_cost`: the price of a generation before making it, from the documented token formula."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from ..server.catalogue.endpoints import FAMILIES, PARAMS, TIERS, default_tier
from ..server.catalogue.facts import VIDEO_SECONDS_MAX, VIDEO_SECONDS_MIN
from ..server.errors import InputError
from ..server.generation.service import GenerationRequest
from ..server.state import AppState
from ..server.tool_listing import PROVIDER_KEY
from .params import (
    TOOL_MODES,
    Fields,
    Model,
    Tier,
    allowed_values,
    arguments_model,
    catalogue_params,
    declare,
    field_of,
)
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
FRAME_MEDIA = tuple(p.name for p in catalogue_params(("image-to-video",)) if p.kind == "media")
REFERENCE_MEDIA = tuple(p.name for p in catalogue_params(("reference-to-video",)) if p.kind == "media_list")
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
    tier: Tier
    resolution: str
    usd_per_1k_tokens: float
    multiplier: float = Field(description="0.6 with reference videos, else 1.")


class CostEstimate(_Price):
    """One request's price; with `shots`, the film's total (its fields summed) and each shot's price."""

    tier: Literal[(*TIERS, "mixed")] = Field(  # type: ignore[valid-type]
        description='"mixed" when a film\'s shots differ.'
    )
    resolution: str = Field(description='"mixed" when a film\'s shots differ.')
    usd_per_1k_tokens: float | None = Field(description="Null when a film's shots use different rates.")
    multiplier: float | None = Field(description="0.6 with reference videos, else 1; null when shots differ.")
    shots: Annotated[
        list[PriceBreakdown] | None,
        WithJsonSchema(
            {"anyOf": [{"type": "array", "items": PriceBreakdown.model_json_schema()}, {"type": "null"}]}
        ),
    ] = Field(default=None, description="With `shots`: each shot's price, in order.")


def _priced(*, shot: bool) -> Fields:
    """The arguments that can change a price, as in the generating tools (described there: the model
    has read them), from the catalogue; a film's shot leaves each to the top-level value."""
    fields: Fields = [("prompt", _PROMPT, None)]
    for param in PARAMS:
        if param.price_note is None:
            continue
        tool = next(t for t, modes in TOOL_MODES.items() if param in catalogue_params(modes))
        modes = tuple(m for ms in TOOL_MODES.values() for m in ms)
        if shot and param.kind not in ("media", "media_list"):
            text = f"Default: the top-level {param.name}."
        else:
            text = f"As in {tool}{'; ' + param.price_note if param.price_note else '.'}"
        annotation, default = field_of(param, allowed_values(param, modes), description=text, optional=shot)
        fields.append((param.name, annotation, default))
        if shot and param.name == "end_image_url":
            fields.append(("continue_from", _CONTINUE_FROM, None))
    model = ("model", _SHOT_MODEL, None) if shot else ("model", _MODEL, FAMILIES[0])
    return [*fields, model, ("tier", _TIER, None), ("input_video_seconds", InputVideoSecondsParam, None)]


_PROMPT = Annotated[str | None, Field(description="Optional; the price does not depend on it.")]
_TIER = Annotated[Tier | None, Field(description="As in generate_video.")]
_MODEL = Annotated[Model, Field(description="As in generate_video.", json_schema_extra={PROVIDER_KEY: "fal"})]
_SHOT_MODEL = Annotated[
    Model | None, Field(description="Default: the top-level model.", json_schema_extra={PROVIDER_KEY: "fal"})
]
_CONTINUE_FROM = Annotated[str | None, Field(description="As in generate_video.")]
Shot = arguments_model(
    "Shot",
    _priced(shot=True),
    doc=(
        "One shot of a film, with the fields of a single request; a field left out takes the top-level value."
    ),
)
ShotsParam = Annotated[
    list[Shot] | None,  # type: ignore[valid-type]
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
FIELDS = [*_priced(shot=False), ("shots", ShotsParam, None)]
MEDIA = tuple(p.name for p in PARAMS if p.kind in ("media", "media_list"))


async def estimate_cost(ctx: ToolContext, **arguments: Any) -> Annotated[CallToolResult, CostEstimate]:
    state = app_state(ctx)
    async with tool_errors():
        shots = arguments.pop("shots")
        if shots is None:
            one = await _price(state, arguments, field="")
            return _answer(CostEstimate(**one.model_dump()))
        given = [name for name in (*MEDIA, "input_video_seconds") if arguments[name] is not None]
        if given:
            raise InputError(
                given[0],
                "with shots, give each shot's media inside that shot (shots[i]), not at the top level",
            )
        prices = []
        for i, shot in enumerate(shots):
            own = {name: value for name, value in shot.model_dump().items() if value is not None}
            prices.append(await _price(state, {**arguments, **own}, field=f"shots[{i}]."))
        return _answer(_film_total(prices, simulated=state.settings.simulated))


def _answer(priced: CostEstimate) -> CallToolResult:
    """The estimate in sentences, price first, with the same numbers as structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=price_text(priced))],
        structured_content=priced.model_dump(mode="json"),
    )


def price_text(priced: CostEstimate) -> str:
    def amount(price: _Price) -> str:
        return f"${price.min_usd:.2f} to ${price.max_usd:.2f}" if price.is_range else f"${price.max_usd:.2f}"

    if priced.shots is None:
        lines = [f"It would cost {amount(priced)}: {priced.tier} {priced.mode}, {priced.resolution}."]
    else:
        lines = [f"The {priced.mode} would cost {amount(priced)} in all."]
        lines += [
            f"Shot {i}: {amount(shot)}, {shot.tier} {shot.mode}, {shot.resolution}."
            for i, shot in enumerate(priced.shots, 1)
        ]
    lines.append(priced.note)
    if priced.is_range:
        lines.append("The spending limits count the upper bound.")
    return "\n".join(lines)


declare(estimate_cost, FIELDS)


async def _price(state: AppState, values: dict[str, Any], *, field: str) -> PriceBreakdown:
    """One request's price through the server's one price function; `field` prefixes refusals (shots[i].)."""
    family = values["model"]
    chosen_tier = values["tier"] or default_tier(family, state.settings.default_tier)
    is_reference = any(values.get(name) for name in REFERENCE_MEDIA)
    framed = next((name for name in FRAME_MEDIA if values.get(name)), None)
    if is_reference and framed:
        raise InputError(
            field + framed,
            f"{framed} belongs to generate_video and image_urls/video_urls/audio_urls to reference_video; "
            "no single call takes both. Price one tool's arguments at a time.",
        )
    # A shot continuing another starts on its last frame; that shot may not exist yet, and the price
    # does not depend on the frame, so it is not looked at here.
    request_mode = "reference-to-video" if is_reference else "image-to-video" if framed else "text-to-video"
    mode = "image-to-video" if values.get("continue_from") and not is_reference else request_mode
    try:
        request = GenerationRequest.of(
            "reference_video" if is_reference else "generate_video",
            family=family,
            tier=chosen_tier,
            mode=request_mode,
            values=values,
            stated_video_seconds=values.get("input_video_seconds"),
        )
        quote = await state.generations.price(request)
    except InputError as exc:
        raise exc.within(field) if field else exc from None
    est = quote.total
    seconds = est.input_video_seconds
    low, high = request.endpoint.auto_seconds
    open_ends = [
        name
        for name, is_open in (
            (f"duration is auto ({low}-{high} s)", request.duration == "auto"),
            ("aspect_ratio is auto (any of six sizes)", request.aspect_ratio == "auto"),
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
        summary=f"{est.describe()} ({request.endpoint.label}, {request.resolution})",
        tier=chosen_tier,
        mode=mode,
        resolution=request.resolution,
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
