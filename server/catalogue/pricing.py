"""Prices from the catalogue's token prices and fal's token formula:

    tokens = height × width × (input video seconds + output seconds) × 24 / 1024
    price  = tokens / 1000 × rate per 1,000 tokens × (the multiplier when video inputs are given)

Each rate, its source and any quoted figure that disagrees with it are in `catalogue/endpoints.py`, so
a correction is one edit there; every estimate names its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .declaration import Endpoint
from .endpoints import ENDPOINTS, LIMITS_2_0

TOKENS_PER_PIXEL_SECOND: Final = 24 / 1024


@dataclass(frozen=True)
class Rate:
    tier: str
    usd_per_1k_tokens: float
    quoted_usd_per_second_720p: float | None
    source: str
    family: str = "2.0"
    video_input_multiplier: float = 0.6


def _rate(entry: Endpoint) -> Rate:
    price = entry.price
    return Rate(
        tier=entry.tier,
        usd_per_1k_tokens=price.usd_per_1k_tokens,
        quoted_usd_per_second_720p=price.quoted_usd_per_second_720p,
        source=price.cite(),
        family=entry.family,
        video_input_multiplier=price.video_input_multiplier,
    )


# One price per model family and tier (its modes share it), from the catalogue.
TIER_ENDPOINTS: Final[dict[tuple[str, str], Endpoint]] = {}
for _entry in ENDPOINTS:
    TIER_ENDPOINTS.setdefault((_entry.family, _entry.tier), _entry)
RATES: Final[dict[tuple[str, str], Rate]] = {key: _rate(entry) for key, entry in TIER_ENDPOINTS.items()}
VIDEO_INPUT_MULTIPLIER: Final = RATES[("2.0", "fast")].video_input_multiplier


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
    return measured if measured is not None else LIMITS_2_0.video_seconds


def token_count(width: int, height: int, seconds: float) -> float:
    return width * height * seconds * TOKENS_PER_PIXEL_SECOND


def estimate(
    entry: Endpoint | None = None,
    *,
    tier: str | None = None,
    family: str = "2.0",
    resolution: str,
    duration: str,
    aspect_ratio: str,
    input_video_seconds: float | tuple[float, float] = 0.0,
    has_video_input: bool = False,
) -> Estimate:
    """Price one generation on `entry` (or on `family`'s `tier`). A range wherever the request leaves a
    number open: "auto" duration or aspect ratio, or reference videos whose length is not known (pass
    `(low, high)` seconds)."""
    if entry is None:
        entry = TIER_ENDPOINTS[(family, tier or "fast")]
    rate = RATES[(entry.family, entry.tier)]
    sizes_by_ratio = entry.output_sizes[resolution]
    sizes = tuple(sizes_by_ratio.values()) if aspect_ratio == "auto" else (sizes_by_ratio[aspect_ratio],)
    seconds = entry.auto_seconds if duration == "auto" else (int(duration), int(duration))
    pixels = sorted(w * h for w, h in sizes)
    video_in = (
        (float(input_video_seconds), float(input_video_seconds))
        if isinstance(input_video_seconds, (int, float))
        else (float(input_video_seconds[0]), float(input_video_seconds[1]))
    )
    multiplier = rate.video_input_multiplier if has_video_input or video_in[1] > 0 else 1.0
    low_tokens = pixels[0] * (video_in[0] + seconds[0]) * TOKENS_PER_PIXEL_SECOND
    high_tokens = pixels[-1] * (video_in[1] + seconds[1]) * TOKENS_PER_PIXEL_SECOND

    def usd(tokens: float) -> float:
        return round(tokens / 1000 * rate.usd_per_1k_tokens * multiplier, 4)

    return Estimate(
        tier=entry.tier,
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
    family: str
    tier: str
    resolution: str
    width: int
    height: int
    usd_per_1k_tokens: float
    usd_per_second: float
    usd: tuple[float, ...]  # one price per entry of PRICE_TABLE_SECONDS


def price_table() -> list[PriceRow]:
    """The price of a 5, 10 and 15 s clip at 16:9 for every model, tier and resolution (no video
    inputs)."""
    rows = []
    for (family, tier), rate in RATES.items():
        entry = TIER_ENDPOINTS[(family, tier)]
        for resolution, sizes in entry.output_sizes.items():
            width, height = sizes[PRICE_TABLE_ASPECT_RATIO]
            prices = tuple(
                estimate(
                    entry, resolution=resolution, duration=str(s), aspect_ratio=PRICE_TABLE_ASPECT_RATIO
                ).max_usd
                for s in PRICE_TABLE_SECONDS
            )
            per_second = round(token_count(width, height, 1) / 1000 * rate.usd_per_1k_tokens, 4)
            rows.append(
                PriceRow(family, tier, resolution, width, height, rate.usd_per_1k_tokens, per_second, prices)
            )
    return rows


def price_table_markdown() -> str:
    """`price_table()` as Markdown, with the rules a row cannot show (a test keeps the README equal)."""
    seconds = " | ".join(f"{s} s" for s in PRICE_TABLE_SECONDS)
    size = f"size ({PRICE_TABLE_ASPECT_RATIO})"
    lines = [
        f"| model | tier | resolution | {size} | per 1,000 tokens | per second | {seconds} |",
        "|---|---|---|---|---|---|" + "---|" * len(PRICE_TABLE_SECONDS),
    ]
    for row in price_table():
        prices = " | ".join(f"${usd:.4f}" for usd in row.usd)
        lines.append(
            f"| {row.family} | {row.tier} | {row.resolution} | {row.width}×{row.height} "
            f"| ${row.usd_per_1k_tokens} | ${row.usd_per_second:.4f} | {prices} |"
        )
    lines += [
        "",
        "tokens = width × height × (input video seconds + output seconds) × 24 / 1024. With reference "
        f"videos the price is × {VIDEO_INPUT_MULTIPLIER} and their seconds count too. Audio on or off costs "
        "the same. Duration or aspect ratio `auto` is billed for what the model makes; before submitting, "
        "the limits count the upper bound (15 s, the largest size).",
        "",
        *(f"- {family} {tier}: {rate.source}" for (family, tier), rate in RATES.items()),
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
