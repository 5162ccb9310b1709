"""The `seedance://models` resource: endpoints, parameters, limits and prices in force, as one JSON document.

An assistant reads it to plan a request without spending anything: which endpoint a tool and tier
map to, the documented enums and output sizes, the reference-file limits, and what 5, 10 and 15 s
clips cost. Everything is read from the catalogue (`server/catalogue/`) and the prices it gives, which
is what the tools enforce, bill with and send, so it cannot drift from the code.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Final

from mcp.server import MCPServer

from ..server.catalogue import endpoints as catalogue
from ..server.catalogue import facts as model_facts
from ..server.catalogue import pricing
from ..server.config import Settings

URI: Final = "seedance://models"
TOOL_MODES: Final = {
    "generate_video": ["text-to-video", "image-to-video (when image_url is given)"],
    "reference_video": ["reference-to-video"],
}


def endpoints() -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """Provider -> model family -> tier -> mode -> the provider's own endpoint id or model name."""
    listed: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for entry in catalogue.ENDPOINTS:
        for provider, provider_id in entry.ids.items():
            tiers = listed.setdefault(provider, {}).setdefault(entry.family, {})
            tiers.setdefault(entry.tier, {})[entry.mode] = provider_id
    return listed


def parameters() -> dict[str, dict[str, Any]]:
    """Each request parameter: what it takes, its default, its providers' names, where it is from."""
    described: dict[str, dict[str, Any]] = {}
    for param in catalogue.PARAMS:
        fact: dict[str, Any] = {"kind": param.kind, "description": param.description}
        if param.values:
            fact["values"] = list(param.values)
        if param.minimum is not None or param.maximum is not None:
            fact["range"] = [param.minimum, param.maximum]
        if param.default is not None:
            fact["default"] = param.default
        if param.names:
            fact["provider_names"] = dict(param.names)
        if param.only_for():
            fact["only_on"] = param.only_for()
        fact["source"] = param.source.cite()
        described[param.name] = fact
    return described


def models_document(settings: Settings) -> dict[str, Any]:
    provider = settings.provider
    listed = endpoints()
    limits = catalogue.LIMITS_2_0
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
        "endpoints": listed,
        "endpoints_in_force": listed[catalogue.api_of(provider)],
        "parameters": parameters(),
        "output_sizes": {
            f"{family} {tier}": {
                resolution: {ratio: f"{w}x{h}" for ratio, (w, h) in sizes.items()}
                for resolution, sizes in entry.output_sizes.items()
            }
            for (family, tier), entry in pricing.TIER_ENDPOINTS.items()
        },
        "reference_limits": {
            "images": {
                "max": limits.max_images,
                "max_bytes_each": limits.max_image_bytes,
                "formats": list(model_facts.REFERENCE_IMAGE_FORMATS),
                "label": "@Image1, @Image2, ...",
            },
            "videos": {
                "max": limits.max_videos,
                "max_total_bytes": limits.max_video_total_bytes,
                "total_seconds": list(limits.video_seconds),
                "pixels": list(limits.video_pixels),
                "formats": list(model_facts.VIDEO_FORMATS),
                "label": "@Video1, @Video2, ...",
            },
            "audio": {
                "max": limits.max_audios,
                "max_bytes_each": limits.max_audio_bytes,
                "max_total_seconds": limits.audio_seconds_max,
                "formats": list(model_facts.AUDIO_FORMATS),
                "needs": "at least one reference image or video",
                "label": "@Audio1, @Audio2, ...",
            },
            "max_files": limits.max_files,
            "frame_image_formats": list(model_facts.FRAME_IMAGE_FORMATS),
            "source": limits.source.cite(),
        },
        "pricing": {
            "formula": "tokens = width x height x (input video seconds + output seconds) x 24 / 1024; "
            "usd = tokens / 1000 x rate",
            "video_input_multiplier": pricing.VIDEO_INPUT_MULTIPLIER,
            "rates": {
                family: {tier: asdict(rate) for (f, tier), rate in pricing.RATES.items() if f == family}
                for family in dict.fromkeys(f for f, _ in pricing.RATES)
            },
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
