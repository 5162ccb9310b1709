"""The argument contract of every tool: strict about names, forgiving about lossless spellings.

It works from each tool's listed input schema, the SDK's public view of a tool. `closed(schema)` says in
the schema that no other argument is accepted (`additionalProperties: false`). `checked_arguments`
refuses any argument the schema does not declare, naming the closest allowed one, and accepts the
spellings an assistant commonly sends where the documented type leaves no doubt: a number for a string
enum of numbers (`duration: 5` → `"5"`), a single string where a list is expected. Everything else
still goes through the declared types and bounds, in the SDK's own validation. `explain_validation`
turns pydantic's errors into one sentence per problem, naming the field, what it accepts and, for an
unknown name, the closest allowed one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

SHOWN_INPUT_CHARS = 80  # an echoed wrong value is cut here: a 50 MB data: URI must not come back whole


class UnknownArguments(ValueError):
    """Arguments the tool does not declare; the message names them and the closest allowed ones."""


def closed(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` saying that no undeclared argument is accepted."""
    return {**schema, "additionalProperties": False}


def checked_arguments(
    tool: str, schema: Mapping[str, Any], arguments: Mapping[str, Any], shown: Sequence[str]
) -> dict[str, Any]:
    """`arguments` with lossless spellings made exact; raises `UnknownArguments` for undeclared names.
    `shown` are the names to offer in the refusal (the ones listed for the active provider)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    unknown = [name for name in arguments if name not in properties]
    if unknown:
        raise UnknownArguments(_sentence(tool, [_unknown(tool, name, shown) for name in unknown]))
    return {name: _coerce(properties[name], value) for name, value in arguments.items()}


def _unknown(tool: str, name: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"`{name}` is not an argument of {tool}.{hint} Its arguments are: {', '.join(allowed)}"


def _sentence(tool: str, problems: list[str]) -> str:
    return f"Invalid arguments for {tool}: " + "; ".join(problems) + ". Fix these and call again."


def _branches(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())]


def _coerce(schema: Mapping[str, Any], value: Any) -> Any:
    branches = _branches(schema)
    types = {b.get("type") for b in branches}
    if isinstance(value, str) and "array" in types and "string" not in types:
        return [value]  # one URL where a list of URLs is expected
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        literals = {v for b in branches if b.get("type") == "string" for v in b.get("enum", ())}
        spelled = str(int(value))
        if "integer" not in types and "number" not in types and spelled in literals:
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
            problems.append(_unknown(tool, field, allowed))
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
    return _sentence(tool, problems)


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > SHOWN_INPUT_CHARS:
        text = f"{text[: SHOWN_INPUT_CHARS - 20]}… ({len(text):,} characters)"
    return text


__all__ = ["UnknownArguments", "checked_arguments", "closed", "explain_validation"]
