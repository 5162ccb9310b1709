"""Oxen.ai's model schemas: discovered live, and the seeds' parameters translated into them.

Oxen's live schema has drifted from the documented one (integer duration, `adaptive` aspect ratio,
audio off by default). Each model's `request_schema` is read from GET `/api/ai/models/{model}`
(cached per process) and the seeds' parameters are translated into it, falling back to the seeds'
shape when the schema cannot be read. The same answer carries the model's pricing (see `pricing`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio

from ...catalogue.facts import Mode, Tier
from ...errors import ProviderUnreachable
from ..base import JobSpec
from .connection import OxenConnection, json_or_none

logger = logging.getLogger(__name__)

MODEL_PREFIX = "bytedance-seedance-2-0-"

# The seeds' request shape: used when a model's live schema cannot be read.
SEED_PROPERTIES: dict[str, Any] = {
    "model": {"type": "string"},
    "prompt": {"type": "string"},
    "input_images": {"type": "array"},
    "input_videos": {"type": "array"},
    "input_audios": {"type": "array"},
    "resolution": {"type": "string", "enum": ["480p", "720p"], "default": "720p"},
    "duration": {"type": "string", "enum": ["auto", *(str(s) for s in range(4, 16))], "default": "auto"},
    "generate_audio": {"type": "boolean", "default": True},
    "aspect_ratio": {
        "type": "string",
        "enum": ["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"],
        "default": "auto",
    },
    "seed": {"type": "integer"},
    "response_format": {"type": "string", "enum": ["url", "b64_json"]},
    "target_namespace": {"type": "string"},
}

# The seeds' parameter names -> Oxen's.
MEDIA_FIELDS = {"image_urls": "input_images", "video_urls": "input_videos", "audio_urls": "input_audios"}
OXEN_ONLY = ("response_format", "target_namespace")


def model_for(tier: Tier, mode: Mode) -> str:
    """Oxen's model name, e.g. `bytedance-seedance-2-0-fast-text-to-video`."""
    if mode not in ("text-to-video", "image-to-video", "reference-to-video"):
        raise ValueError(f"unknown mode {mode!r}")
    return f"{MODEL_PREFIX}{'fast-' if tier == 'fast' else ''}{mode}"


@dataclass(frozen=True)
class ModelInfo:
    """A model's request schema properties and pricing; `live` is False for the seeds' fallback."""

    name: str
    properties: dict[str, Any]
    pricing: dict[str, Any] | None
    live: bool


class ModelCatalog:
    """Each model's live schema and pricing, read once per process (a failed read is tried again)."""

    def __init__(self, connection: OxenConnection) -> None:
        self._oxen = connection
        self._models: dict[str, ModelInfo] = {}
        self._lock = anyio.Lock()

    async def get(self, model: str) -> ModelInfo:
        """The model's live schema and pricing, or the seeds' shape when it cannot be read."""
        async with self._lock:
            if model in self._models:
                return self._models[model]
            oxen = self._oxen
            try:
                url = f"{oxen.base}/api/ai/models/{quote(model)}"
                response = await oxen.send("GET", url, "reading the model")
            except ProviderUnreachable as exc:
                logger.warning("Oxen.ai model %s unreadable (%s); using the documented schema", model, exc)
                return ModelInfo(model, SEED_PROPERTIES, None, live=False)
            data = json_or_none(response) if response.status_code == 200 else None
            if isinstance(data, dict) and isinstance(data.get("model"), dict):
                data = data["model"]
            schema = data.get("request_schema") if isinstance(data, dict) else None
            props = schema.get("properties") if isinstance(schema, dict) else None
            if not isinstance(data, dict) or not isinstance(props, dict):
                logger.warning(
                    "Oxen.ai model %s: no request schema (%d); using the documented schema",
                    model,
                    response.status_code,
                )
                return ModelInfo(model, SEED_PROPERTIES, None, live=False)
            pricing = data.get("pricing")
            info = ModelInfo(model, props, pricing if isinstance(pricing, dict) else None, live=True)
            self._models[model] = info
            return info


def translate(spec: JobSpec, info: ModelInfo) -> dict[str, Any]:
    """The seeds' arguments as a request body for the model's schema."""
    props = info.properties
    args = spec.arguments
    body: dict[str, Any] = {"model": info.name, "prompt": args.get("prompt", "")}

    def allowed(name: str) -> bool:
        return name in props or not info.live

    for name in ("resolution", "seed", *OXEN_ONLY):
        if args.get(name) is not None and allowed(name):
            body[name] = args[name]
    if "generate_audio" in args:
        # Sent even at its default: the live schema's default (off) differs from the documented one (on).
        body["generate_audio"] = bool(args["generate_audio"])
    if "duration" in args:
        value = _duration(str(args["duration"]), props.get("duration") or SEED_PROPERTIES["duration"])
        if value is not None:
            body["duration"] = value
    if "aspect_ratio" in args:
        value = _aspect_ratio(str(args["aspect_ratio"]), props.get("aspect_ratio") or {})
        if value is not None:
            body["aspect_ratio"] = value
    if spec.mode == "image-to-video":
        frames = [args[k] for k in ("image_url", "end_image_url") if args.get(k)]
        if "input_images" in props or not info.live:
            body["input_images"] = frames
        elif "image_url" in props:
            body["image_url"] = frames[0]
            if len(frames) > 1:
                body["end_image_url"] = frames[1]
    for ours, theirs in MEDIA_FIELDS.items():
        if args.get(ours):
            body[theirs] = list(args[ours])
    dropped = sorted(
        set(args)
        - {"prompt", "duration", "aspect_ratio", "generate_audio", "image_url"}
        - {"end_image_url", *MEDIA_FIELDS}
        - set(body)
    )
    if dropped:
        logger.info("not sent to Oxen.ai (not in %s's schema): %s", info.name, ", ".join(dropped))
    return body


def _duration(value: str, prop: dict[str, Any]) -> int | str | None:
    enum = prop.get("enum") or []
    if prop.get("type") == "integer" or (enum and all(isinstance(e, int) for e in enum)):
        if value == "auto":
            # -1 means "the model decides" in the live schema; without it, leave the default.
            return -1 if -1 in enum or prop.get("default") == -1 else None
        return int(value)
    if enum and value not in enum and value == "auto":
        return None
    return value


def _aspect_ratio(value: str, prop: dict[str, Any]) -> str | None:
    enum = prop.get("enum")
    if not enum or value in enum:
        return value
    if value == "auto":
        return "adaptive" if "adaptive" in enum else None
    return value  # let Oxen name the problem
