"""An Oxen.ai model's per-second price, read from the `pricing` object of its live model answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .schema import ModelInfo


@dataclass(frozen=True)
class OxenPrice:
    """Per-second price of one generation from the model's pricing object."""

    usd_per_second: float
    source: str


def price_of(info: ModelInfo, values: Mapping[str, Any]) -> OxenPrice | None:
    """Per-second price from the model's pricing object for a request's `values` (the seeds' names);
    None when Oxen gives none we understand."""
    pricing = info.pricing or {}
    if pricing.get("method") != "per_video_output_second":
        return None
    rates = {k: v for k, v in pricing.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    candidates = [rates.get("cost_per_second")]
    if values.get("generate_audio"):
        candidates.append(rates.get("cost_per_second_with_audio"))
    if values.get("resolution") != "480p":
        candidates.append(rates.get("cost_per_second_high_res"))
    known = [float(c) for c in candidates if c is not None]
    if not known:
        return None
    # Oxen does not say how the surcharges combine: the highest that applies is the safe estimate.
    rate = max(known)
    return OxenPrice(rate, f"Oxen.ai pricing of {info.name}: ${rate:.4f} per output second")
