"""The tool list as hosts receive it: the same schemas, written compactly.

Every conversation in every host pays for `tools/list` in context, so what the SDK derives from the
pydantic models is trimmed before it goes out, without changing what it accepts or describes:

- pydantic's per-field `title` (the field name again, capitalised) is dropped;
- an optional input whose default is null is listed as its type alone (not being in `required` says it
  may be left out; the server still accepts an explicit null);
- a nullable output field stays `anyOf: [X, {"type": "null"}]`: a `type` list is shorter but less
  portable (the Inspector's --strict check flags it; single-type dialects such as Gemini's reject it);
- output schemas keep their top level, each field with its type, and describe nested objects only as
  objects: the result's text and `next_step` tell the model what it needs, and every result still
  validates against them;
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


def outline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`'s top-level fields with their types only: no descriptions, nested objects as objects."""
    compact = compact_schema(schema)
    fields = {name: _outline(prop) for name, prop in compact.get("properties", {}).items()}
    return {"type": "object", "properties": fields}


def _outline(schema: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {key: schema[key] for key in ("type", "const") if key in schema}
    if "anyOf" in schema:
        kept["anyOf"] = [_outline(branch) for branch in schema["anyOf"]]
    if kept.get("type") == "array" or "array" in kept.get("type", ()):
        items = schema.get("items", {})
        kept["items"] = {k: items[k] for k in ("type",) if k in items}
    return kept


def compact_tool(tool: Tool, provider: str) -> Tool:
    """`tool` as listed to hosts while `provider` is active."""
    annotations = tool.annotations
    if annotations is not None and annotations.title == tool.title:
        annotations = annotations.model_copy(update={"title": None})  # said once is enough
    return tool.model_copy(
        update={
            "annotations": annotations,
            "input_schema": compact_schema(tool.input_schema, provider, inputs=True),
            "output_schema": None if tool.output_schema is None else outline_schema(tool.output_schema),
        }
    )
