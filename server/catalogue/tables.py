"""The catalogue as the README's tables (a test keeps the README equal to these)."""

from __future__ import annotations

import json
from typing import Any

from .declaration import Param
from .endpoints import ENDPOINTS, MODES, PARAMS


def _takes(param: Param) -> str:
    if param.values:  # every value some endpoint takes, in the catalogue's order
        values = dict.fromkeys(v for e in ENDPOINTS for v in e.values(param.name))
        return " \\| ".join(f"`{v}`" for v in values)
    if param.minimum is not None and param.maximum is not None:
        return f"{param.kind} {param.minimum}–{param.maximum}"
    return {"media": "URL, data: URI or path", "media_list": "list of URLs, data: URIs or paths"}.get(
        param.kind, param.kind
    )


def _source(param: Param) -> str:
    page, read = param.source.page, param.source.read
    return f"[{read}]({page})" if page.startswith("https://") else f"{page}, {read}"


def parameter_table_markdown() -> str:
    """Every request parameter: what it takes, its default, who takes it under which name, its source."""
    lines = [
        "| parameter | takes | default | modes | providers (their name) | source |",
        "|---|---|---|---|---|---|",
    ]
    for param in PARAMS:
        modes = dict.fromkeys(e.mode for e in ENDPOINTS if e.param(param.name) is not None)
        shown_modes = "all" if set(MODES) <= set(modes) else ", ".join(modes)
        default = (
            "required" if param.required else "—" if param.default is None else f"`{_json(param.default)}`"
        )
        providers = ", ".join(f"{p} (`{param.names[p]}`)" if p in param.names else p for p in param.providers)
        lines.append(
            f"| `{param.name}` | {_takes(param)} | {default} | {shown_modes} | {providers} "
            f"| {_source(param)} |"
        )
    return "\n".join(lines)


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
