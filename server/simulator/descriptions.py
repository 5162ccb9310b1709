"""The simulator's own description of every endpoint it serves, written in each vendor's format.

Read from the JSON files under `endpoints/`, never from the server's own facts, so a wrong limit on
either side shows up in the test that compares the two instead of being mirrored:
- `endpoints/fal/<endpoint id>.json`: what fal's platform holds for one endpoint: `openapi` (the queue
  OpenAPI document fal serves per endpoint), `pricing` (one entry of `GET /v1/models/pricing`) and
  `metadata`; beside them `documented`, the facts fal states only in prose and tables (output sizes,
  the token formula, the total file limit, drafts), with where each comes from.
- `endpoints/oxen/<model>.json`: Oxen's answer to `GET /api/ai/models/{model}` (`request_schema`,
  `pricing`), plus `documented` likewise.

Tests inject vendor drift with a JSON merge patch (RFC 7386) on one description (`Descriptions.patch`,
or `PATCH /_simulator/descriptions/{fal|oxen}/{id}`): the simulator then serves *and* validates the
drifted description, as the vendor would.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

Provider = Literal["fal", "oxen"]
Mode = Literal["text-to-video", "image-to-video", "reference-to-video"]
MODES: tuple[Mode, ...] = ("text-to-video", "image-to-video", "reference-to-video")
OutputSizes = dict[str, dict[str, tuple[int, int]]]


@functools.cache
def _originals() -> dict[Provider, dict[str, dict[str, Any]]]:
    """Every description file, by provider and id (the fal endpoint id or the Oxen model name)."""
    root = resources.files(__package__).joinpath("endpoints")
    found: dict[Provider, dict[str, dict[str, Any]]] = {"fal": {}, "oxen": {}}

    def walk(folder: Any, prefix: str, into: dict[str, dict[str, Any]]) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/", into)
            elif entry.name.endswith(".json"):
                into[prefix + entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))

    walk(root.joinpath("fal"), "", found["fal"])
    walk(root.joinpath("oxen"), "", found["oxen"])
    return found


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `null` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _sizes(documented: dict[str, Any]) -> OutputSizes:
    table = documented.get("output_sizes") or {}
    return {res: {ratio: (int(w), int(h)) for ratio, (w, h) in row.items()} for res, row in table.items()}


@dataclass(frozen=True)
class FalEndpoint:
    """One fal endpoint as the simulator describes it."""

    endpoint_id: str
    data: dict[str, Any]

    @property
    def openapi(self) -> dict[str, Any]:
        return dict(self.data["openapi"])

    @property
    def pricing(self) -> dict[str, Any]:
        return dict(self.data.get("pricing") or {})

    @property
    def documented(self) -> dict[str, Any]:
        return dict(self.data.get("documented") or {})

    def _schema(self, method: str, path: str) -> dict[str, Any]:
        operation = self.openapi["paths"][path][method]
        if method == "post":
            ref = operation["requestBody"]["content"]["application/json"]["schema"]
        else:
            ref = operation["responses"]["200"]["content"]["application/json"]["schema"]
        return resolve(self.openapi, ref)

    @property
    def input_schema(self) -> dict[str, Any]:
        return self._schema("post", f"/{self.endpoint_id}")

    @property
    def output_schema(self) -> dict[str, Any]:
        return self._schema("get", f"/{self.endpoint_id}/requests/{{request_id}}")

    @property
    def mode(self) -> Mode | None:
        """The generating mode (None for an endpoint that finishes drafts)."""
        last = self.endpoint_id.rsplit("/", 1)[-1]
        return next((m for m in MODES if m == last), None)

    @property
    def owner_app(self) -> str:
        """`owner/app`: the part of the id that status, result and cancel URLs keep."""
        return "/".join(self.endpoint_id.split("/")[:2])

    @property
    def output_sizes(self) -> OutputSizes:
        return _sizes(self.documented)

    @property
    def draft(self) -> dict[str, Any] | None:
        """How this endpoint drafts (`resolution`, `expires_after_days`, `complete_endpoint`), if it does."""
        draft = self.documented.get("draft")
        return dict(draft) if isinstance(draft, dict) else None

    @property
    def finishes_drafts_of(self) -> str | None:
        """For a draft-finishing endpoint: the `owner/app` whose drafts it finishes."""
        value = self.documented.get("finishes_drafts_of")
        return str(value) if value else None


@dataclass(frozen=True)
class OxenModel:
    """One Oxen model as the simulator describes it."""

    name: str
    data: dict[str, Any]

    @property
    def answer(self) -> dict[str, Any]:
        """What `GET /api/ai/models/{model}` answers (the description without the prose facts)."""
        return {k: v for k, v in self.data.items() if k != "documented"}

    @property
    def properties(self) -> dict[str, Any]:
        return dict((self.data.get("request_schema") or {}).get("properties") or {})

    @property
    def documented(self) -> dict[str, Any]:
        return dict(self.data.get("documented") or {})

    @property
    def mode(self) -> Mode:
        return next(m for m in MODES if self.name.endswith(m))

    @property
    def output_sizes(self) -> OutputSizes:
        return _sizes(self.documented)


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a top-level local `$ref` (`#/components/schemas/X`) followed."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


_ID = re.compile(r"[A-Za-z0-9._\-/]+")


class Descriptions:
    """The descriptions one simulator serves and validates with; patches stay with this instance.

    Read on first use, so starting a simulator costs nothing until a request needs a description."""

    def __init__(self) -> None:
        self._patched: dict[Provider, dict[str, dict[str, Any]]] | None = None

    @property
    def _current(self) -> dict[Provider, dict[str, dict[str, Any]]]:
        if self._patched is None:
            self._patched = copy.deepcopy(_originals())
        return self._patched

    def fal(self, endpoint_id: str) -> FalEndpoint | None:
        data = self._current["fal"].get(endpoint_id)
        return FalEndpoint(endpoint_id, data) if data is not None else None

    def fal_ids(self) -> list[str]:
        return sorted(self._current["fal"])

    def oxen(self, model: str) -> OxenModel | None:
        data = self._current["oxen"].get(model)
        return OxenModel(model, data) if data is not None else None

    def oxen_names(self) -> list[str]:
        return sorted(self._current["oxen"])

    def patch(self, provider: Provider, name: str, patch: dict[str, Any] | None) -> None:
        """Apply a JSON merge patch to one description (adding it if new); `None` removes it."""
        if provider not in self._current or not _ID.fullmatch(name):
            raise KeyError(f"{provider}/{name}")
        table = self._current[provider]
        if patch is None:
            table.pop(name, None)
        else:
            table[name] = merge_patch(table.get(name, {}), patch)

    def reset(self) -> None:
        """Every description back to what the files say."""
        self._patched = None
