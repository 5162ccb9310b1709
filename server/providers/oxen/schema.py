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

from ...catalogue.endpoints import endpoint, served_id
from ...errors import ProviderUnreachable
from ..base import JobSpec
from .connection import OxenConnection, json_or_none

logger = logging.getLogger(__name__)

_JSON_TYPES = {"text": "string", "choice": "string", "integer": "integer", "boolean": "boolean"}


def documented_properties() -> dict[str, Any]:
    """Oxen's documented request shape, from the catalogue (its reference-to-video entry, the one Oxen
    documents): used when a model's live schema cannot be read."""
    entry = endpoint("2.0", "standard", "reference-to-video")
    assert entry is not None
    props: dict[str, Any] = {"model": {"type": "string"}}
    for param in entry.params:
        if "oxen" not in param.providers:
            continue
        prop: dict[str, Any] = {"type": _JSON_TYPES.get(param.kind, "array")}
        if param.values:
            prop["enum"] = list(param.values)
        if param.default is not None:
            prop["default"] = param.default
        props[param.name_for("oxen")] = prop
    return props


SEED_PROPERTIES: dict[str, Any] = documented_properties()

# Sent in Oxen's shape, below: values Oxen's live schema spells differently.
CONVERTED = ("duration", "aspect_ratio")


def model_for(tier: str, mode: str, family: str = "2.0") -> str:
    """Oxen's model name from the catalogue, e.g. `bytedance-seedance-2-0-fast-text-to-video`."""
    return served_id("oxen", family, tier, mode)


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
    """The seeds' arguments as a request body for the model's schema, in the catalogue's Oxen names.

    A frame and the reference images share Oxen's `input_images` (in order: start frame, end frame);
    where a live schema still has fal's frame names, those are used. A parameter the live schema does
    not list is left out (and logged); one job-count parameter rides in `count`, set by the queue."""
    props = info.properties
    args = spec.arguments
    body: dict[str, Any] = {"model": info.name}
    dropped: list[str] = []
    for param in spec.endpoint.params:
        value: Any = args.get(param.name)
        if value is None or param.counts_jobs or "oxen" not in param.providers:
            continue
        name = param.name_for("oxen")
        if param.kind == "media" and info.live and name not in props and param.name in props:
            name = param.name  # an older live schema: image_url / end_image_url
        if info.live and name not in props:
            dropped.append(param.name)
            continue
        if param.name in CONVERTED:
            value = _CONVERT[param.name](str(value), props.get(param.name) or SEED_PROPERTIES[param.name])
            if value is None:
                continue
        if param.kind == "media" and name != param.name:
            body.setdefault(name, []).append(value)
        else:
            body[name] = list(value) if param.kind == "media_list" else value
    body.setdefault("prompt", "")
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


_CONVERT = {"duration": _duration, "aspect_ratio": _aspect_ratio}
