"""The argument contract of every tool: strict about names, forgiving about lossless spellings.

`make_strict(tool)` is applied once to each registered tool. Its argument model then refuses any
argument it does not declare (the input schema says `additionalProperties: false`), and accepts the
spellings an assistant commonly sends where the documented type leaves no doubt: a number for a
string enum of numbers (`duration: 5` → `"5"`), a single string where a list is expected. Everything
else still goes through the declared types and bounds. `explain_validation` turns pydantic's errors
into one sentence per problem, naming the field, what it accepts and, for an unknown name, the
closest allowed one.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal, Union, cast

from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from pydantic import ConfigDict, ValidationError, model_validator
from pydantic.fields import FieldInfo

SHOWN_INPUT_CHARS = 80  # an echoed wrong value is cut here: a 50 MB data: URI must not come back whole


class StrictArguments(ArgModelBase):
    """Base of every tool's argument model: unknown names are errors; lossless coercions first."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _lossless(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = {info.alias or name: info for name, info in cls.model_fields.items()}
        return {key: _coerce(fields[key], value) if key in fields else value for key, value in data.items()}


def make_strict(tool: Tool) -> Tool:
    """Give `tool` a strict argument model and a schema that says so."""
    loose = tool.fn_metadata.arg_model
    strict = cast(type[ArgModelBase], types.new_class(loose.__name__, (StrictArguments, loose)))
    tool.fn_metadata.arg_model = strict
    tool.parameters = strict.model_json_schema(by_alias=True)
    return tool


def allowed_arguments(tool: Tool) -> list[str]:
    return [info.alias or name for name, info in tool.fn_metadata.arg_model.model_fields.items()]


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The members of an annotation, unwrapping Optional/Union (but not Annotated metadata)."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return tuple(m for arg in typing.get_args(annotation) for m in _choices(arg))
    return (annotation,)


def _coerce(field: FieldInfo, value: Any) -> Any:
    members = _choices(field.annotation)
    lists = any(typing.get_origin(m) is list for m in members)
    if isinstance(value, str) and lists and not any(m is str for m in members):
        return [value]  # one URL where a list of URLs is expected
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        literals = {v for m in members if typing.get_origin(m) is Literal for v in typing.get_args(m)}
        if literals and all(isinstance(v, str) for v in literals) and float(value).is_integer():
            spelled = str(int(value))
            if spelled in literals:
                return spelled  # duration: 5 -> "5"
    return value


def explain_validation(tool: str, error: ValidationError, allowed: list[str]) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "arguments"
        got = _shown(item.get("input"))
        context = item.get("ctx", {})
        kind = item["type"]
        if kind == "extra_forbidden":
            close = difflib.get_close_matches(field, allowed, n=1, cutoff=0.6)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            problems.append(
                f"`{field}` is not an argument of {tool}.{hint} Its arguments are: {', '.join(allowed)}"
            )
        elif kind == "blank":
            problems.append(f"{field} {item['msg']}")
        elif kind == "missing":
            problems.append(f"{field} is required")
        elif kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
            bound = {
                "less_than_equal": f"at most {context.get('le')}",
                "greater_than_equal": f"at least {context.get('ge')}",
                "less_than": f"below {context.get('lt')}",
                "greater_than": f"above {context.get('gt')}",
            }[kind]
            problems.append(f"{field} must be {bound}; got {got}")
        elif context.get("expected"):
            problems.append(f"{field} must be {context['expected']}; got {got}")
        else:
            problems.append(f"{field}: {item['msg'].rstrip('.')}; got {got}")
    return f"Invalid arguments for {tool}: " + "; ".join(problems) + ". Fix these and call again."


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > SHOWN_INPUT_CHARS:
        text = f"{text[: SHOWN_INPUT_CHARS - 20]}… ({len(text):,} characters)"
    return text


__all__ = ["StrictArguments", "allowed_arguments", "explain_validation", "make_strict"]
