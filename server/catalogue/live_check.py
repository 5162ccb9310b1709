"""`seedance-mcp doctor --models`: our facts against each provider's machine-readable description.

For every endpoint the server calls on the chosen provider, read what the vendor publishes now and
name each difference from what we declare:
- fal: the endpoint's queue OpenAPI document (`<site>/api/openapi/queue/openapi.json?endpoint_id=`,
  public, the same metadata fal's per-endpoint llms.txt is generated from) and, with a key, the
  account's unit price (`<api>/v1/models/pricing`), compared with our token rate;
- Oxen: the model's answer to `GET /api/ai/models/{model}` (its `request_schema`), with the key.
Kinds of difference: unknown endpoint, new or removed parameter, changed type, allowed values, limits
(list lengths), defaults, required fields, and prices.

What we declare comes from one adapter, `declared_endpoints`, so this module does not care where the
server keeps its facts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import httpx

from .declaration import Endpoint
from .endpoints import ENDPOINTS

FAL_SITE_URL: Final = "https://fal.ai"
FAL_API_URL: Final = "https://api.fal.ai"
NO_DEFAULT: Final = object()  # a parameter without a default (distinct from a default of None)


@dataclass(frozen=True)
class DeclaredParam:
    """One parameter as we send it, in the provider's own name and type."""

    kind: str  # JSON Schema type: string, integer, boolean, array
    values: tuple[Any, ...] = ()  # allowed values, when limited to a list
    default: Any = NO_DEFAULT
    max_items: int | None = None
    required: bool = False


@dataclass(frozen=True)
class DeclaredEndpoint:
    """One endpoint (fal endpoint id or Oxen model name) as we declare it."""

    provider: str
    endpoint_id: str
    params: Mapping[str, DeclaredParam]
    usd_per_1k_tokens: float | None = None  # fal's token rate; None where the provider prices it itself
    usd_per_second_720p: float | None = None  # the same rate for one second of 1280×720


@dataclass
class Finding:
    """The differences found for one endpoint (empty `differences`: it matches)."""

    endpoint_id: str
    differences: list[str] = field(default_factory=list)


# --- what we declare (the one adapter over the server's facts) --------------------------------------
def declared_endpoints(provider: str) -> list[DeclaredEndpoint]:
    """Every endpoint the server calls on `provider`, with its parameters in that provider's terms,
    read from the catalogue."""
    return [_declared(entry, provider) for entry in ENDPOINTS if entry.id_for(provider) is not None]


_JSON_TYPES: Final = {"text": "string", "choice": "string", "integer": "integer", "boolean": "boolean"}


def _declared(entry: Endpoint, provider: str) -> DeclaredEndpoint:
    limits = entry.limits
    most = {"image_urls": limits.max_images, "video_urls": limits.max_videos, "audio_urls": limits.max_audios}
    params: dict[str, DeclaredParam] = {}
    if provider == "oxen":
        params["model"] = DeclaredParam("string", required=True)
    for param in entry.params:
        if provider not in param.providers or (provider == "oxen" and param.counts_jobs):
            continue  # Oxen's job count is a field of its queue, not of the model's schema
        name = param.name_for(provider)
        if param.kind == "media" and name != param.name:  # frames share Oxen's input_images
            frames = sum(1 for p in entry.params if p.kind == "media")
            params[name] = DeclaredParam("array", max_items=frames)
            continue
        kind = _JSON_TYPES.get(param.kind, "string" if param.kind == "media" else "array")
        params[name] = DeclaredParam(
            kind,
            param.values,
            NO_DEFAULT if param.default is None else param.default,
            max_items=most.get(param.name),
            # an image-to-video endpoint needs its start frame, though the tool does not
            required=param.required or (param.name == "image_url" and entry.mode == "image-to-video"),
        )
    if provider != "fal":
        return DeclaredEndpoint(provider, entry.ids[provider], params)
    rate = entry.price.usd_per_1k_tokens
    per_second = 1280 * 720 * 24 / 1024 / 1000 * rate
    return DeclaredEndpoint("fal", entry.ids["fal"], params, rate, per_second)


# --- reading and comparing --------------------------------------------------------------------------
def check_fal(
    client: httpx.Client,
    declared: Iterable[DeclaredEndpoint],
    *,
    site_url: str = FAL_SITE_URL,
    api_url: str = FAL_API_URL,
    key: str | None = None,
) -> list[Finding]:
    """Each declared fal endpoint against its published schema, and (with `key`) its unit price."""
    endpoints = list(declared)
    findings = []
    for ours in endpoints:
        finding = Finding(ours.endpoint_id)
        answer = client.get(
            f"{site_url}/api/openapi/queue/openapi.json", params={"endpoint_id": ours.endpoint_id}
        )
        if answer.status_code == 404:
            finding.differences.append("unknown endpoint: fal.ai does not know this endpoint id")
        elif answer.status_code != 200:
            finding.differences.append(f"could not be read: HTTP {answer.status_code}")
        else:
            schema = _fal_input_schema(_json(answer), ours.endpoint_id)
            if schema is None:
                finding.differences.append("could not be read: no input schema in fal.ai's OpenAPI document")
            else:
                finding.differences += compare_params(ours.params, schema)
        findings.append(finding)
    if key is not None:
        _compare_fal_prices(client, endpoints, findings, api_url, key)
    return findings


def check_oxen(
    client: httpx.Client, declared: Iterable[DeclaredEndpoint], *, base_url: str, key: str
) -> list[Finding]:
    """Each declared Oxen model against its live `request_schema`."""
    findings = []
    for ours in declared:
        finding = Finding(ours.endpoint_id)
        answer = client.get(
            f"{base_url}/api/ai/models/{quote(ours.endpoint_id)}", headers={"Authorization": f"Bearer {key}"}
        )
        body = _json(answer)
        if isinstance(body, dict) and isinstance(body.get("model"), dict):
            body = body["model"]
        schema = body.get("request_schema") if isinstance(body, dict) else None
        if answer.status_code == 404:
            finding.differences.append("unknown endpoint: Oxen.ai does not know this model")
        elif answer.status_code != 200 or not isinstance(schema, dict):
            finding.differences.append(f"could not be read: HTTP {answer.status_code}")
        else:
            finding.differences += compare_params(ours.params, in_documented_terms(schema))
        findings.append(finding)
    return findings


def in_documented_terms(schema: dict[str, Any]) -> dict[str, Any]:
    """Oxen's live schema with the drift the Oxen provider translates (providers/oxen/schema.py) undone:
    an integer `duration` with -1 for "auto" reads as the documented strings, `adaptive` as "auto". What
    the server cannot translate still shows as a difference."""
    props = dict(schema.get("properties") or {})
    duration = dict(props.get("duration") or {})
    if duration.get("type") == "integer" and -1 in (duration.get("enum") or ()):
        duration["type"] = "string"
        duration["enum"] = ["auto" if v == -1 else str(v) for v in duration["enum"]]
        if duration.get("default") == -1:
            duration["default"] = "auto"
        props["duration"] = duration
    aspect = dict(props.get("aspect_ratio") or {})
    if "adaptive" in (aspect.get("enum") or ()):
        aspect["enum"] = ["auto" if v == "adaptive" else v for v in aspect["enum"]]
        if aspect.get("default") == "adaptive":
            aspect["default"] = "auto"
        props["aspect_ratio"] = aspect
    return {**schema, "properties": props}


def _json(answer: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's error page, say)."""
    try:
        return answer.json()
    except ValueError:
        return None


def _fal_input_schema(document: Any, endpoint_id: str) -> dict[str, Any] | None:
    try:
        operation = document["paths"][f"/{endpoint_id}"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]
        schema = _resolved(document, ref)
    except (KeyError, TypeError):
        return None
    return schema if isinstance(schema.get("properties"), dict) else None


def _resolved(document: Any, schema: Any) -> dict[str, Any]:
    """A schema with local `$ref`s, `allOf` of one, and `anyOf [X, null]` (an optional X) unwrapped."""
    if not isinstance(schema, dict):
        return {}
    if isinstance(schema.get("$ref"), str):
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return {**_resolved(document, node), **{k: v for k, v in schema.items() if k != "$ref"}}
    for combiner in ("anyOf", "allOf", "oneOf"):
        options = [o for o in schema.get(combiner) or () if isinstance(o, dict) and o.get("type") != "null"]
        if len(options) == 1:
            rest = {k: v for k, v in schema.items() if k != combiner}
            return {**_resolved(document, options[0]), **rest}
    return schema


def compare_params(ours: Mapping[str, DeclaredParam], schema: dict[str, Any]) -> list[str]:
    """Every difference between our parameters and a JSON Schema object's properties."""
    props = {name: _resolved(schema, prop) for name, prop in (schema.get("properties") or {}).items()}
    required = set(schema.get("required") or ())
    found = []
    for name in props.keys() - ours.keys():
        prop = props[name]
        what = _describe(prop)
        found.append(f"new parameter `{name}`{' (required)' if name in required else ''}: {what}")
    for name in ours.keys() - props.keys():
        found.append(f"removed parameter `{name}`: the provider's schema no longer has it")
    for name in sorted(ours.keys() & props.keys()):
        found += _compare_one(name, ours[name], props[name], name in required)
    return sorted(found)


def _compare_one(name: str, ours: DeclaredParam, prop: dict[str, Any], required: bool) -> list[str]:
    found = []
    kind = prop.get("type")
    if kind is not None and kind != ours.kind:
        found.append(f"`{name}` type changed: {ours.kind} → {kind}")
    if "enum" in prop or ours.values:
        theirs = tuple(prop.get("enum") or ())
        added = [v for v in theirs if v not in ours.values]
        removed = [v for v in ours.values if v not in theirs]
        if theirs and added:
            found.append(f"`{name}` allows new values: {_values(added)}")
        if removed:
            found.append(f"`{name}` no longer allows: {_values(removed)}")
    theirs_default = prop.get("default", NO_DEFAULT)
    if theirs_default is not NO_DEFAULT and theirs_default != ours.default:
        before = "none" if ours.default is NO_DEFAULT else repr(ours.default)
        found.append(f"`{name}` default changed: {before} → {theirs_default!r}")
    if ours.max_items is not None and prop.get("maxItems") != ours.max_items:
        found.append(f"`{name}` limit changed: at most {ours.max_items} → {prop.get('maxItems', 'no limit')}")
    if required != ours.required:
        found.append(f"`{name}` is {'now required' if required else 'no longer required'}")
    return found


def _describe(prop: dict[str, Any]) -> str:
    text = str(prop.get("type") or "any")
    if "enum" in prop:
        text += f" ({_values(prop['enum'])})"
    if "default" in prop:
        text += f", default {prop['default']!r}"
    return text


def _values(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _compare_fal_prices(
    client: httpx.Client, endpoints: list[DeclaredEndpoint], findings: list[Finding], api_url: str, key: str
) -> None:
    ids = [e.endpoint_id for e in endpoints]
    answer = client.get(
        f"{api_url}/v1/models/pricing",
        params={"endpoint_id": ",".join(ids)},
        headers={"Authorization": f"Key {key}"},
    )
    by_id = {f.endpoint_id: f for f in findings}
    if answer.status_code != 200:
        for finding in findings:
            finding.differences.append(f"price could not be read: HTTP {answer.status_code}")
        return
    listed = _json(answer)
    listed = listed.get("prices") if isinstance(listed, dict) else None
    prices = {p.get("endpoint_id"): p for p in listed or () if isinstance(p, dict)}
    for ours in endpoints:
        finding = by_id[ours.endpoint_id]
        price = prices.get(ours.endpoint_id)
        if price is None:
            finding.differences.append("price: fal.ai gave no price for this endpoint")
            continue
        difference = price_difference(ours, price)
        if difference:
            finding.differences.append(difference)


def price_difference(ours: DeclaredEndpoint, price: Mapping[str, Any]) -> str | None:
    """How fal's unit price differs from our rate, or None when they agree."""
    unit = str(price.get("unit") or "")
    theirs = price.get("unit_price")
    if not isinstance(theirs, (int, float)):
        return f"price: fal.ai's unit price is unreadable ({theirs!r})"
    words = unit.lower().replace(",", "").split()
    if "tokens" in words or "token" in words:
        per = float(words[0]) if words and words[0].replace(".", "", 1).isdigit() else 1.0
        mine = (ours.usd_per_1k_tokens or 0.0) * per / 1000
        label = f"per {unit}"
    elif words and words[-1] in ("second", "seconds", "video_second"):
        mine, label = ours.usd_per_second_720p or 0.0, "per second (720p)"
    else:
        return f"price: fal.ai prices in {unit!r}, which we do not compare (its unit price {theirs})"
    if math.isclose(mine, float(theirs), rel_tol=1e-6, abs_tol=1e-9):
        return None
    return f"price changed: ours ${mine:.6g} → fal.ai's ${float(theirs):.6g} {label}"
