"""What the vendors publish about their endpoints, served from the simulator's own descriptions.

fal (paths as on fal.ai and api.fal.ai; see `descriptions` for the files behind them):
- `GET /api/openapi/queue/openapi.json?endpoint_id=<id>`: the endpoint's queue OpenAPI document (public).
- `GET /models/<id>/llms.txt`: the per-endpoint text file agents read: input and output schema with
  defaults and allowed values, pricing, output sizes (public).
- `GET /v1/models/pricing?endpoint_id=<id>[,<id>...]`: the account's unit prices (`Authorization: Key`).
Oxen's `GET /api/ai/models/{model}` is served by `oxen`.

Test hooks, to inject vendor drift: `PATCH /_simulator/descriptions/{fal|oxen}/{id}` with a JSON merge
patch (RFC 7386; the body `null` removes the endpoint, a patch for an unknown id adds one), and
`DELETE /_simulator/descriptions` to go back to the files. The simulator validates requests with the
patched description too, as the vendor would after a change.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .descriptions import FalEndpoint, resolve
from .fal import check_key, note
from .jobs import Engine

MAX_PRICED = 50  # endpoint ids one pricing request may name


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def openapi(request: Request) -> Response:
    note(request, kind="description")
    endpoint_id = request.query_params.get("endpoint_id", "")
    described = _engine(request).descriptions.fal(endpoint_id)
    if described is None:
        return JSONResponse({"detail": f"Endpoint {endpoint_id!r} not found"}, status_code=404)
    return JSONResponse(described.openapi)


async def llms_txt(request: Request) -> Response:
    note(request, kind="description")
    endpoint_id = request.path_params["endpoint_id"]
    described = _engine(request).descriptions.fal(endpoint_id)
    if described is None:
        return PlainTextResponse(f"Model {endpoint_id} not found\n", status_code=404)
    return PlainTextResponse(llms_text(described), media_type="text/markdown; charset=utf-8")


async def pricing(request: Request) -> Response:
    note(request, kind="pricing")
    if (denied := check_key(request)) is not None:
        return denied
    ids = [part for value in request.query_params.getlist("endpoint_id") for part in value.split(",") if part]
    if not 1 <= len(ids) <= MAX_PRICED:
        detail = f"endpoint_id: give 1 to {MAX_PRICED} endpoint ids"
        return JSONResponse({"detail": detail}, status_code=422)
    descriptions = _engine(request).descriptions
    prices = [d.pricing for d in (descriptions.fal(i) for i in ids) if d is not None and d.pricing]
    return JSONResponse({"prices": prices, "next_cursor": None, "has_more": False})


async def patch_description(request: Request) -> Response:
    provider, name = request.path_params["provider"], request.path_params["name"]
    try:
        body = json.loads(await request.body() or b"null")
        if body is not None and not isinstance(body, dict):
            raise ValueError("a JSON object or null")
        _engine(request).descriptions.patch(provider, name, body)
    except (ValueError, KeyError) as exc:
        return JSONResponse({"detail": f"not applied: {exc}"}, status_code=400)
    return Response(status_code=204)


async def reset_descriptions(request: Request) -> Response:
    _engine(request).descriptions.reset()
    return Response(status_code=204)


def routes() -> list[Route]:
    """Published descriptions and the drift hooks; they must come before fal's submit catch-all."""
    return [
        Route("/api/openapi/queue/openapi.json", openapi, methods=["GET"]),
        Route("/models/{endpoint_id:path}/llms.txt", llms_txt, methods=["GET"]),
        Route("/v1/models/pricing", pricing, methods=["GET"]),
        Route("/_simulator/descriptions/{provider}/{name:path}", patch_description, methods=["PATCH"]),
        Route("/_simulator/descriptions", reset_descriptions, methods=["DELETE"]),
    ]


# --- llms.txt ------------------------------------------------------------------------------------
def llms_text(endpoint: FalEndpoint) -> str:
    """The endpoint's description as fal's per-endpoint llms.txt lays it out."""
    meta = endpoint.data.get("metadata") or {}
    name = str(meta.get("display_name") or endpoint.endpoint_id)
    lines = [
        f"# {name}",
        "",
        f"> {meta.get('description') or name}",
        "",
        f"**Endpoint:** `POST https://queue.fal.run/{endpoint.endpoint_id}`",
        f"**Endpoint ID:** `{endpoint.endpoint_id}`",
        "",
        "## Pricing",
        "",
        _pricing_text(endpoint),
        "",
        "## API Reference",
        "",
        "### Input Schema",
        "",
        *_fields(endpoint.openapi, endpoint.input_schema),
        "### Output Schema",
        "",
        *_fields(endpoint.openapi, endpoint.output_schema),
    ]
    sizes = endpoint.output_sizes
    if sizes:
        ratios = list(next(iter(sizes.values())))
        lines += ["## Supported resolutions", "", "| | " + " | ".join(ratios) + " |"]
        lines.append("|---|" + "---|" * len(ratios))
        for resolution, row in sizes.items():
            lines.append(f"| **{resolution}** | " + " | ".join(f"{w}×{h}" for w, h in row.values()) + " |")
        lines.append("")
    limits = [
        f"* `{n}` restricted to: " + ", ".join(f"`{v}`" for v in p["enum"])
        for n, p in (endpoint.input_schema.get("properties") or {}).items()
        if "enum" in p and n in ("resolution", "aspect_ratio")
    ]
    if limits:
        lines += ["## Limitations", "", *limits, ""]
    return "\n".join(lines)


def _pricing_text(endpoint: FalEndpoint) -> str:
    price = endpoint.pricing
    formula = endpoint.documented.get("pricing") or {}
    text = f"Your request will cost ${price.get('unit_price')} per {price.get('unit')}."
    if formula.get("tokens"):
        text += f" The number of tokens is given by ({formula['tokens']})."
    multiplier = formula.get("video_input_multiplier")
    if multiplier not in (None, 1, 1.0):
        text += f" If video inputs are provided the price is multiplied by {multiplier}."
    for resolution, usd in (formula.get("quoted_usd_per_second") or {}).items():
        text += f" For every second of {resolution} video you will be charged ${usd}/second."
    return text


def _fields(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    order = [n for n in schema.get("x-fal-order-properties") or () if n in props]
    order += [n for n in props if n not in order]
    out: list[str] = []
    for name in order:
        prop = resolve(document, props[name])
        kind = prop.get("type") or prop.get("title") or "object"
        if kind == "array":
            kind = f"list<{(prop.get('items') or {}).get('type', 'string')}>"
        attrs = f'body="{name}" type="{kind}"' + (" required" if name in required else "")
        if "default" in prop:
            attrs += f' default="{_plain(prop["default"])}"'
        out.append(f"<ParamField {attrs}>")
        text = str(props[name].get("description") or prop.get("description") or "")
        if "default" in prop:
            text += f" Default value: `{json.dumps(prop['default'])}`"
        out.append(f"  {text.strip()}")
        if "enum" in prop:
            out += ["", "  Possible values: " + ", ".join(f"`{_plain(v)}`" for v in prop["enum"])]
        if "maxItems" in prop:
            out += ["", f"  At most {prop['maxItems']} items."]
        out += ["</ParamField>", ""]
    return out


def _plain(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
