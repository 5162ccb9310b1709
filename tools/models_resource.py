"""The `seedance://models` resource: endpoints, parameters, limits and prices in force, as one JSON document.

An assistant reads it to plan a request without spending anything: which endpoint a tool and tier
map to, the documented enums and output sizes, the reference-file limits, and what 5, 10 and 15 s
clips cost. Everything is built from `tools.params` and `tools.pricing` (what the tools enforce and
bill with) and from the provider modules' own endpoint functions, so it cannot drift from the code.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Final

from mcp.server import MCPServer

from ..server.catalogue import facts as model_facts
from ..server.catalogue import pricing
from ..server.config import Settings

URI: Final = "seedance://models"
MODES: Final = ("text-to-video", "image-to-video", "reference-to-video")
TOOL_MODES: Final = {
    "generate_video": ["text-to-video", "image-to-video (when image_url is given)"],
    "reference_video": ["reference-to-video"],
}


def endpoints() -> dict[str, dict[str, dict[str, str]]]:
    """Provider -> tier -> mode -> the provider's own model id."""
    from ..server.providers.fal import endpoint_for
    from ..server.providers.oxen import model_for

    return {
        "fal": {tier: {mode: endpoint_for(tier, mode) for mode in MODES} for tier in ("fast", "standard")},
        "oxen": {tier: {mode: model_for(tier, mode) for mode in MODES} for tier in ("fast", "standard")},
    }


def models_document(settings: Settings) -> dict[str, Any]:
    provider = settings.provider
    return {
        "model": "ByteDance Seedance 2.0",
        "provider": provider,
        "simulated": settings.simulated,
        "default_tier": settings.default_tier,
        "tiers": {
            "fast": "lower latency and cost; the same output quality per fal.ai",
            "standard": "the reference endpoints; dearer",
        },
        "tools": TOOL_MODES,
        "endpoints": endpoints(),
        "endpoints_in_force": endpoints().get(provider, {}) if not settings.simulated else endpoints()["fal"],
        "parameters": {
            "resolution": {"values": list(model_facts.RESOLUTIONS), "default": "720p"},
            "duration": {
                "values": list(model_facts.DURATIONS),
                "default": "auto",
                "seconds": [model_facts.MIN_SECONDS, model_facts.MAX_SECONDS],
            },
            "aspect_ratio": {"values": list(model_facts.ASPECT_RATIOS), "default": "auto"},
            "generate_audio": {"default": True, "note": "costs the same either way"},
            "seed": "optional integer; results may still vary slightly",
        },
        "output_sizes": {
            resolution: {ratio: f"{w}x{h}" for ratio, (w, h) in sizes.items()}
            for resolution, sizes in model_facts.OUTPUT_SIZE.items()
        },
        "reference_limits": {
            "images": {
                "max": model_facts.MAX_IMAGES,
                "max_bytes_each": model_facts.MAX_IMAGE_BYTES,
                "formats": list(model_facts.REFERENCE_IMAGE_FORMATS),
                "label": "@Image1, @Image2, ...",
            },
            "videos": {
                "max": model_facts.MAX_VIDEOS,
                "max_total_bytes": model_facts.MAX_VIDEO_TOTAL_BYTES,
                "total_seconds": [model_facts.VIDEO_SECONDS_MIN, model_facts.VIDEO_SECONDS_MAX],
                "pixels": [model_facts.VIDEO_PIXELS_MIN, model_facts.VIDEO_PIXELS_MAX],
                "formats": list(model_facts.VIDEO_FORMATS),
                "label": "@Video1, @Video2, ...",
            },
            "audio": {
                "max": model_facts.MAX_AUDIOS,
                "max_bytes_each": model_facts.MAX_AUDIO_BYTES,
                "max_total_seconds": model_facts.AUDIO_SECONDS_MAX,
                "formats": list(model_facts.AUDIO_FORMATS),
                "needs": "at least one reference image or video",
                "label": "@Audio1, @Audio2, ...",
            },
            "max_files": model_facts.MAX_FILES,
            "frame_image_formats": list(model_facts.FRAME_IMAGE_FORMATS),
        },
        "pricing": {
            "formula": "tokens = width x height x (input video seconds + output seconds) x 24 / 1024; "
            "usd = tokens / 1000 x rate",
            "video_input_multiplier": pricing.VIDEO_INPUT_MULTIPLIER,
            "rates": {tier: asdict(rate) for tier, rate in pricing.RATES.items()},
            "table_aspect_ratio": pricing.PRICE_TABLE_ASPECT_RATIO,
            "table_seconds": list(pricing.PRICE_TABLE_SECONDS),
            "table": [asdict(row) for row in pricing.price_table()],
            "auto": 'with duration or aspect_ratio "auto" an estimate is a range; caps count its upper bound',
            "note": (
                "nothing is charged: the simulator makes the videos"
                if settings.simulated
                else "fal.ai's published rates; Oxen.ai bills its own per-second price"
                if provider == "oxen"
                else "fal.ai's published rates"
            ),
        },
        "spending_caps": {
            "max_cost_usd": settings.max_cost_usd,
            "daily_budget_usd": settings.daily_budget_usd,
            "confirm_above_usd": settings.confirm_above_usd,
        },
    }


def register_models_resource(server: MCPServer[Any], settings: Settings) -> None:
    """Add `seedance://models` to `server`; its content follows `settings`."""

    @server.resource(
        URI,
        name="models",
        title="Seedance 2.0 endpoints, limits and prices",
        description=(
            "JSON: the endpoints each tool and tier use, the documented parameters and output sizes, "
            "reference-file limits, the price formula with a 5/10/15 s price table, and the spending caps."
        ),
        mime_type="application/json",
    )
    def models() -> str:
        return json.dumps(models_document(settings), indent=1)
