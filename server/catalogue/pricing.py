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

from .facts import (
    MAX_SECONDS,
    MIN_SECONDS,
    OUTPUT_SIZE,
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
)

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
    input_video_seconds: tuple[float, float]
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

    def as_dict(self) -> dict[str, object]:
        """The breakdown kept with each job and shown by estimate_cost."""
        return {
            "summary": self.describe(),
            "min_usd": self.min_usd,
            "max_usd": self.max_usd,
            "tier": self.tier,
            "resolution": self.resolution,
            "tokens": [self.min_tokens, self.max_tokens],
            "output_seconds": list(self.output_seconds),
            "input_video_seconds": list(self.input_video_seconds),
            "sizes": [f"{w}x{h}" for w, h in self.sizes],
            "usd_per_1k_tokens": self.rate.usd_per_1k_tokens,
            "multiplier": self.multiplier,
            "source": self.rate.source,
        }


def reference_video_seconds(measured: float | None) -> float | tuple[float, float]:
    """Reference video seconds to bill: as measured when every clip is a local file, else the whole
    allowed 2–15 s range, since a URL's length is unknown without downloading it."""
    return measured if measured is not None else (VIDEO_SECONDS_MIN, VIDEO_SECONDS_MAX)


def token_count(width: int, height: int, seconds: float) -> float:
    return width * height * seconds * TOKENS_PER_PIXEL_SECOND


def estimate(
    *,
    tier: str,
    resolution: str,
    duration: str,
    aspect_ratio: str,
    input_video_seconds: float | tuple[float, float] = 0.0,
    has_video_input: bool = False,
) -> Estimate:
    """Price one generation. A range wherever the request leaves a number open: "auto" duration or
    aspect ratio, or reference videos whose length is not known (pass `(low, high)` seconds)."""
    rate = RATES[tier]
    sizes_by_ratio = OUTPUT_SIZE[resolution]
    sizes = tuple(sizes_by_ratio.values()) if aspect_ratio == "auto" else (sizes_by_ratio[aspect_ratio],)
    seconds = (MIN_SECONDS, MAX_SECONDS) if duration == "auto" else (int(duration), int(duration))
    pixels = sorted(w * h for w, h in sizes)
    video_in = (
        (float(input_video_seconds), float(input_video_seconds))
        if isinstance(input_video_seconds, (int, float))
        else (float(input_video_seconds[0]), float(input_video_seconds[1]))
    )
    multiplier = VIDEO_INPUT_MULTIPLIER if has_video_input or video_in[1] > 0 else 1.0
    low_tokens = pixels[0] * (video_in[0] + seconds[0]) * TOKENS_PER_PIXEL_SECOND
    high_tokens = pixels[-1] * (video_in[1] + seconds[1]) * TOKENS_PER_PIXEL_SECOND

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
        input_video_seconds=video_in,
        multiplier=multiplier,
        rate=rate,
    )


# The README's "Prices" table and seedance://models show these clips, each priced by `estimate` itself.
PRICE_TABLE_SECONDS: Final = (5, 10, 15)
PRICE_TABLE_ASPECT_RATIO: Final = "16:9"


@dataclass(frozen=True)
class PriceRow:
    tier: str
    resolution: str
    width: int
    height: int
    usd_per_1k_tokens: float
    usd_per_second: float
    usd: tuple[float, ...]  # one price per entry of PRICE_TABLE_SECONDS


def price_table() -> list[PriceRow]:
    """The price of a 5, 10 and 15 s clip at 16:9 for every tier and resolution (no video inputs)."""
    rows = []
    for tier, rate in RATES.items():
        for resolution, sizes in OUTPUT_SIZE.items():
            width, height = sizes[PRICE_TABLE_ASPECT_RATIO]
            prices = tuple(
                estimate(
                    tier=tier, resolution=resolution, duration=str(s), aspect_ratio=PRICE_TABLE_ASPECT_RATIO
                ).max_usd
                for s in PRICE_TABLE_SECONDS
            )
            per_second = round(token_count(width, height, 1) / 1000 * rate.usd_per_1k_tokens, 4)
            rows.append(PriceRow(tier, resolution, width, height, rate.usd_per_1k_tokens, per_second, prices))
    return rows


def price_table_markdown() -> str:
    """`price_table()` as Markdown, with the rules a row cannot show (a test keeps the README equal)."""
    seconds = " | ".join(f"{s} s" for s in PRICE_TABLE_SECONDS)
    size = f"size ({PRICE_TABLE_ASPECT_RATIO})"
    lines = [
        f"| tier | resolution | {size} | per 1,000 tokens | per second | {seconds} |",
        "|---|---|---|---|---|" + "---|" * len(PRICE_TABLE_SECONDS),
    ]
    for row in price_table():
        prices = " | ".join(f"${usd:.4f}" for usd in row.usd)
        lines.append(
            f"| {row.tier} | {row.resolution} | {row.width}×{row.height} | ${row.usd_per_1k_tokens} "
            f"| ${row.usd_per_second:.4f} | {prices} |"
        )
    lines += [
        "",
        "tokens = width × height × (input video seconds + output seconds) × 24 / 1024. With reference "
        f"videos the price is × {VIDEO_INPUT_MULTIPLIER} and their seconds count too. Audio on or off costs "
        "the same. Duration or aspect ratio `auto` is billed for what the model makes; before submitting, "
        "the limits count the upper bound (15 s, the largest size).",
        "",
        *(f"- {tier}: {rate.source}" for tier, rate in RATES.items()),
    ]
    return "\n".join(lines)


__all__ = [
    "PRICE_TABLE_ASPECT_RATIO",
    "PRICE_TABLE_SECONDS",
    "RATES",
    "VIDEO_INPUT_MULTIPLIER",
    "Estimate",
    "PriceRow",
    "Rate",
    "estimate",
    "price_table",
    "price_table_markdown",
    "token_count",
]
