"""Prices of Seedance 2.0, from one table and the seeds' token formula.

    tokens = height × width × (input video seconds + output seconds) × 24 / 1024
    price  = tokens / 1000 × rate per 1,000 tokens × (0.6 when video inputs are given)

The seeds quote two per-second prices for 720p with audio: $0.3034/s standard and $0.2419/s fast.
The fast figure is what the formula gives at $0.0112 per 1,000 tokens. For the standard tier the fast
page also lists $0.014 per 1,000 tokens, which gives $0.3024/s at 1280×720, a cent off the quoted
$0.3034. We bill with the token rate (the formula is what fal states it charges) and name the source
in every estimate, so a correction is one edit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tools.params import MAX_SECONDS, MIN_SECONDS, OUTPUT_SIZE

TOKENS_PER_PIXEL_SECOND: Final = 24 / 1024
VIDEO_INPUT_MULTIPLIER: Final = 0.6


@dataclass(frozen=True)
class Rate:
    tier: str
    usd_per_1k_tokens: float
    quoted_usd_per_second_720p: float
    source: str


RATES: Final[dict[str, Rate]] = {
    "fast": Rate(
        tier="fast",
        usd_per_1k_tokens=0.0112,
        quoted_usd_per_second_720p=0.2419,
        source="fal fast/reference-to-video page: $0.0112 per 1,000 tokens ($0.2419/s at 720p)",
    ),
    "standard": Rate(
        tier="standard",
        usd_per_1k_tokens=0.014,
        quoted_usd_per_second_720p=0.3034,
        source=(
            "fal fast/reference-to-video page token table: $0.014 per 1,000 tokens "
            "(= $0.3024/s at 720p; the text-to-video page quotes $0.3034/s)"
        ),
    ),
}


@dataclass(frozen=True)
class Estimate:
    """A price, or a range when the duration or aspect ratio is left to the model ("auto")."""

    tier: str
    resolution: str
    min_usd: float
    max_usd: float
    min_tokens: int
    max_tokens: int
    output_seconds: tuple[int, int]
    sizes: tuple[tuple[int, int], ...]
    input_video_seconds: float
    multiplier: float
    rate: Rate

    @property
    def is_range(self) -> bool:
        return self.min_usd != self.max_usd

    @property
    def usd(self) -> float | None:
        """The single price, or None when only a range can be known."""
        return None if self.is_range else self.max_usd

    def describe(self) -> str:
        if self.is_range:
            return f"${self.min_usd:.4f}–${self.max_usd:.4f}"
        return f"${self.max_usd:.4f}"


def token_count(width: int, height: int, seconds: float) -> float:
    return width * height * seconds * TOKENS_PER_PIXEL_SECOND


def estimate(
    *,
    tier: str,
    resolution: str,
    duration: str,
    aspect_ratio: str,
    input_video_seconds: float = 0.0,
    has_video_input: bool = False,
) -> Estimate:
    rate = RATES[tier]
    sizes_by_ratio = OUTPUT_SIZE[resolution]
    sizes = tuple(sizes_by_ratio.values()) if aspect_ratio == "auto" else (sizes_by_ratio[aspect_ratio],)
    seconds = (MIN_SECONDS, MAX_SECONDS) if duration == "auto" else (int(duration), int(duration))
    pixels = sorted(w * h for w, h in sizes)
    multiplier = VIDEO_INPUT_MULTIPLIER if has_video_input or input_video_seconds > 0 else 1.0
    low_tokens = pixels[0] * (input_video_seconds + seconds[0]) * TOKENS_PER_PIXEL_SECOND
    high_tokens = pixels[-1] * (input_video_seconds + seconds[1]) * TOKENS_PER_PIXEL_SECOND

    def usd(tokens: float) -> float:
        return round(tokens / 1000 * rate.usd_per_1k_tokens * multiplier, 4)

    return Estimate(
        tier=tier,
        resolution=resolution,
        min_usd=usd(low_tokens),
        max_usd=usd(high_tokens),
        min_tokens=round(low_tokens),
        max_tokens=round(high_tokens),
        output_seconds=seconds,
        sizes=sizes,
        input_video_seconds=input_video_seconds,
        multiplier=multiplier,
        rate=rate,
    )


__all__ = ["RATES", "VIDEO_INPUT_MULTIPLIER", "Estimate", "Rate", "estimate", "token_count"]
