"""The shape of a catalogue entry: a provider endpoint, its parameters, limits, sizes and price, and
where each fact was read.

`endpoints.py` holds the entries. Everything that needs a fact about an endpoint (the tools' input
schemas, argument checks, prices, request bodies in each provider's names, the models resource, the
README's tables) reads it from there through these types, so a fact is stated once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

ParamKind = Literal["text", "choice", "integer", "boolean", "media", "media_list"]


@dataclass(frozen=True)
class Source:
    """Where a fact was read, and when. `third_party` facts come from someone other than the vendor."""

    page: str
    read: str  # the date it was read (ISO)
    third_party: bool = False

    def cite(self) -> str:
        who = " (third party)" if self.third_party else ""
        return f"{self.page}{who}, read {self.read}"


@dataclass(frozen=True)
class Param:
    """One request parameter of an endpoint, in the seeds' (fal's) name, which is also the tools' name.

    `names` gives a provider's own name where it differs (Oxen's `input_images`); `providers` lists the
    providers that take it at all, so a provider's own options are marked here and nowhere else.
    `default` None means optional and left out of the request when not given.
    """

    name: str
    kind: ParamKind
    description: str  # what the assistant is told (tool schemas, README)
    source: Source
    values: tuple[str, ...] = ()  # the allowed values of a choice
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    providers: tuple[str, ...] = ("fal", "oxen")
    counts_jobs: bool = False  # its value is how many jobs (and charges) one call makes
    required: bool = False
    price_note: str | None = None  # set when the value can change the price: what estimate_cost says

    def name_for(self, provider: str) -> str:
        return self.names.get(provider, self.name)

    def only_for(self) -> str | None:
        """The one provider that takes this parameter, when only one does."""
        return self.providers[0] if len(self.providers) == 1 else None


@dataclass(frozen=True)
class MediaLimits:
    """What the reference and frame inputs of an endpoint may be."""

    max_images: int
    max_videos: int
    max_audios: int
    max_files: int
    max_image_bytes: int
    max_audio_bytes: int
    max_video_total_bytes: int
    video_seconds: tuple[float, float]  # combined duration of the reference videos
    audio_seconds_max: float
    video_pixels: tuple[int, int]
    source: Source


@dataclass(frozen=True)
class TokenPrice:
    """fal's token formula: tokens = w × h × (input video s + output s) × 24 / 1024;
    usd = tokens / 1000 × rate × (multiplier when video inputs are given)."""

    usd_per_1k_tokens: float
    quoted_usd_per_second_720p: float | None
    source: Source
    video_input_multiplier: float = 0.6
    note: str = ""  # what the source says beyond the rate (a quoted figure that disagrees, ...)

    def cite(self) -> str:
        rate = f"${self.usd_per_1k_tokens} per 1,000 tokens"
        quoted = (
            f" (${self.quoted_usd_per_second_720p}/s at 720p quoted)"
            if self.quoted_usd_per_second_720p is not None
            else ""
        )
        note = f"; {self.note}" if self.note else ""
        return f"{rate}{quoted}: {self.source.cite()}{note}"


Sizes = Mapping[str, Mapping[str, tuple[int, int]]]  # resolution -> aspect ratio -> (width, height)


@dataclass(frozen=True)
class Drafts:
    """An endpoint's draft mode: `draft: true` makes a cheap take at `resolution`, which the endpoint
    `finish` (a catalogue key) renders again at full resolution within `days`."""

    resolution: str
    days: int
    finish: tuple[str, str, str]
    source: Source


@dataclass(frozen=True)
class Endpoint:
    """One endpoint the server can call: a model family's tier in one mode, on each provider."""

    family: str  # "2.0", "2.5"
    tier: str  # "standard", "fast", "mini"
    mode: str  # "text-to-video", "image-to-video", "reference-to-video"
    ids: Mapping[str, str]  # provider -> its endpoint id (fal) or model name (Oxen)
    params: tuple[Param, ...]
    output_sizes: Sizes
    limits: MediaLimits
    price: TokenPrice
    sources: tuple[Source, ...]
    auto_seconds: tuple[int, int]  # what "auto" duration may come to (billing ranges)
    drafts: Drafts | None = None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def values(self, name: str) -> tuple[str, ...]:
        found = self.param(name)
        return found.values if found is not None else ()

    def id_for(self, provider: str) -> str | None:
        return self.ids.get(provider)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.family, self.tier, self.mode)

    @property
    def label(self) -> str:
        return f"Seedance {self.family} {self.tier} {self.mode}"
