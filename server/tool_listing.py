"""The tool list as hosts receive it: the same schemas, written compactly.

Every conversation in every host pays for `tools/list` in context, so what the SDK derives from the
pydantic models is trimmed before it goes out, without changing what it accepts or describes:

- pydantic's per-field `title` (the field name again, capitalised) is dropped;
- an optional input whose default is null is listed as its type alone (not being in `required` says it
  may be left out; the server still accepts an explicit null);
- a nested input property that repeats a top-level one (a film's `shots` items repeat the request's
  fields) is listed by its type only, and an array's items lose a description the array already has:
  the model has read the rest;
- output schemas are outlined: the top-level fields every result has, each with its bare type, no
  descriptions (the result's text and `next_step` tell the model what it needs). Optional fields still
  arrive and results still validate; listing them would cost 40 characters each as
  `anyOf: [X, null]`, and the shorter `"type": [X, "null"]` is less portable (the Inspector's --strict
  flags it); `required` would repeat every name;
- the annotations' title is dropped when it repeats the tool's title;
- parameters marked for one provider (`PROVIDER_KEY` in their JSON schema, see `tools/params.py`) are
  listed only when that provider is active; the handlers still refuse them elsewhere.

Only the listing changes: arguments are validated against the tools' full models as before.
"""

from __future__ import annotations

from typing import Any, Final

from mcp.types import Tool

# The JSON-schema key that marks a parameter as belonging to one provider (value: the provider's name).
PROVIDER_KEY: Final = "x-provider"

_SCHEMA_LISTS: Final = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES: Final = ("items", "additionalProperties", "not", "contains")


def compact_schema(
    schema: dict[str, Any], provider: str | None = None, *, inputs: bool = False
) -> dict[str, Any]:
    """`schema` written compactly; with `provider`, properties marked for another provider are left out.
    With `inputs`, optional fields defaulting to null are listed without the null."""
    if inputs and "default" in schema and schema["default"] is None:
        branches = [b for b in schema.get("anyOf", ()) if b != {"type": "null"}]
        if len(branches) == 1:
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
            return compact_schema({**rest, **branches[0]}, provider, inputs=inputs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and value is None) or key == PROVIDER_KEY:
            continue
        if key == "properties":
            kept = {
                name: prop
                for name, prop in value.items()
                if provider is None or prop.get(PROVIDER_KEY, provider) == provider
            }
            out[key] = {name: compact_schema(prop, provider, inputs=inputs) for name, prop in kept.items()}
            if "required" in schema:
                out["required"] = [name for name in schema["required"] if name in kept]
        elif key == "required" and "properties" in schema:
            continue  # written with the properties, minus any left out
        elif key in _SCHEMA_LISTS:
            out[key] = [compact_schema(item, provider, inputs=inputs) for item in value]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = compact_schema(value, provider, inputs=inputs)
        else:
            out[key] = value
    return out


def input_schema(schema: dict[str, Any], provider: str) -> dict[str, Any]:
    """A tool's input schema as listed: compact, and described once at the top level."""
    compact = compact_schema(schema, provider, inputs=True)
    top = frozenset(compact.get("properties", {}))
    fields = {name: _strip_repeats(prop, top) for name, prop in compact.get("properties", {}).items()}
    return {**compact, "properties": fields} if "properties" in compact else compact


def outline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`'s required top-level fields with their types only: no descriptions, nested objects as
    objects."""
    compact = compact_schema(schema)
    required = compact.get("required", [])
    fields = {
        name: _outline(prop) for name, prop in compact.get("properties", {}).items() if name in required
    }
    return {"type": "object", "properties": fields}


def _outline(schema: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {key: schema[key] for key in ("type", "const") if key in schema}
    if "anyOf" in schema:
        kept["anyOf"] = [_outline(branch) for branch in schema["anyOf"]]
    return kept


def compact_tool(tool: Tool, provider: str) -> Tool:
    """`tool` as listed to hosts while `provider` is active."""
    annotations = tool.annotations
    if annotations is not None and annotations.title == tool.title:
        annotations = annotations.model_copy(update={"title": None})  # said once is enough
    return tool.model_copy(
        update={
            "annotations": annotations,
            "input_schema": input_schema(tool.input_schema, provider),
            "output_schema": None if tool.output_schema is None else outline_schema(tool.output_schema),
        }
    )


def _strip_repeats(schema: dict[str, Any], top: frozenset[str]) -> dict[str, Any]:
    """Below the top level: properties named like a top-level one keep their type only."""
    out = dict(schema)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            name: {k: v for k, v in prop.items() if k in ("type", "items")}
            if name in top
            else _strip_repeats(prop, top)
            for name, prop in out["properties"].items()
        }
    if isinstance(out.get("items"), dict) and "description" in out:
        out["items"] = {k: v for k, v in out["items"].items() if k != "description"}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _strip_repeats(out[key], top)
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_strip_repeats(item, top) for item in out[key]]
    return out
