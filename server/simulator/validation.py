"""What a request's input must be, by the endpoint's own description, and why a job fails before it renders.

`check_input` gives fal-style (pydantic-shaped) issues from the endpoint's OpenAPI input schema and its
documented rules; `failure_for` turns the first issue, an input URL the model could not download, or
a `[sim:...]` marker in the prompt into the job's `Failure`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .descriptions import FalEndpoint
from .storage import FileStore

# Infrastructure error types -> (HTTP status of the result call, message). fal's documented set.
INFRA_ERRORS: dict[str, tuple[int, str]] = {
    "request_timeout": (504, "Request timed out before the runner finished"),
    "startup_timeout": (504, "Runner did not start in time"),
    "runner_scheduling_failure": (503, "No runner could be scheduled for the request"),
    "runner_disconnected": (503, "Runner disconnected while processing the request"),
    "runner_connection_timeout": (503, "Timed out connecting to the runner"),
    "runner_connection_refused": (503, "Runner refused the connection"),
    "runner_connection_error": (503, "Could not connect to the runner"),
    "runner_incomplete_response": (502, "Runner returned an incomplete response"),
    "runner_server_error": (500, "Runner failed with an internal server error"),
    "internal_error": (500, "Internal server error"),
    "client_cancelled": (499, "Request was cancelled by the client"),
    "bad_request": (400, "Bad request"),
}

REAL_FACE = "real-face"
_MARKER = re.compile(r"\[sim:(content_policy|real-face|error=([a-z0-9_]+)|detail=([a-z0-9_]+))\]")
_DOWNLOAD_MSG = "Failed to download the file. Please check if the URL is accessible and try again."
_POLICY_MSG = "The content could not be processed because it was flagged by a content checker."
_REAL_FACE_MSG = (
    "The input appears to show a real person. Generating likenesses of real people is not allowed; "
    "use an image without a recognisable real face."
)


@dataclass(frozen=True)
class Failure:
    """Why a job ended without a video. `detail` is a list for 422s, a string otherwise."""

    status: int
    error_type: str
    message: str
    detail: list[dict[str, Any]] | str


def _literal_issue(name: str, value: Any, allowed: tuple[Any, ...]) -> dict[str, Any]:
    quoted = [f"'{a}'" for a in allowed]
    expected = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return {
        "loc": ["body", name],
        "msg": f"Input should be {expected}",
        "type": "literal_error",
        "ctx": {"expected": expected},
        "input": value,
    }


def _issue(name: str, msg: str, kind: str, value: Any, **ctx: Any) -> dict[str, Any]:
    issue: dict[str, Any] = {"loc": ["body", name], "msg": msg, "type": kind}
    if ctx:
        issue["ctx"] = ctx
    issue["input"] = value
    return issue


def _check_property(name: str, prop: dict[str, Any], value: Any) -> dict[str, Any] | None:
    """The first pydantic-style issue of one present value against its schema property."""
    kind = prop.get("type")
    if "enum" in prop:
        return None if value in prop["enum"] else _literal_issue(name, value, tuple(prop["enum"]))
    if kind == "boolean":
        return (
            None
            if isinstance(value, bool)
            else _issue(name, "Input should be a valid boolean", "bool_type", value)
        )
    if value is None:
        return None
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return _issue(name, "Input should be a valid integer", "int_type", value)
    if kind == "string":
        if not isinstance(value, str):
            return _issue(name, "Input should be a valid string", "string_type", value)
        least = int(prop.get("minLength", 0))
        if len(value.strip()) < least:
            unit = "character" if least == 1 else "characters"
            return _issue(
                name,
                f"String should have at least {least} {unit}",
                "string_too_short",
                value,
                min_length=least,
            )
    if kind == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return _issue(name, "Input should be a valid list of strings", "list_type", value)
        most = prop.get("maxItems")
        if most is not None and len(value) > most:
            return _issue(
                name,
                f"List should have at most {most} items after validation, not {len(value)}",
                "too_long",
                value,
                field_type="List",
                max_length=most,
                actual_length=len(value),
            )
        fewest = prop.get("minItems")
        if fewest is not None and len(value) < fewest:
            return _issue(
                name,
                f"List should have at least {fewest} item after validation, not {len(value)}",
                "too_short",
                value,
                field_type="List",
                min_length=fewest,
                actual_length=len(value),
            )
    return None


def check_input(endpoint: FalEndpoint, args: dict[str, Any]) -> list[dict[str, Any]]:
    """fal-style (pydantic-shaped) validation issues for `args`, by the endpoint's description; empty when
    valid. Fields the schema does not know are ignored, as fal's models ignore them."""
    schema = endpoint.input_schema
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    order = [n for n in schema.get("x-fal-order-properties") or () if n in props]
    order += [n for n in props if n not in order]
    issues: list[dict[str, Any]] = []
    for name in order:
        if name not in args or (args[name] is None and name in required):
            if name in required:
                issues.append(
                    {"loc": ["body", name], "msg": "Field required", "type": "missing", "input": args}
                )
            continue
        issue = _check_property(name, props[name], args[name])
        if issue is not None:
            issues.append(issue)
    documented = endpoint.documented
    counts = [len(args[n]) for n in props if n.endswith("_urls") and isinstance(args.get(n), list)]
    total = documented.get("max_total_files")
    if total is not None and sum(counts) > total:
        issues.append(
            {
                "loc": ["body"],
                "msg": f"Total files across all modalities must not exceed {total}",
                "type": "value_error",
                "input": sum(counts),
            }
        )
    needs_picture = documented.get("audio_needs_image_or_video") and args.get("audio_urls")
    if needs_picture and not (args.get("image_urls") or args.get("video_urls")):
        issues.append(
            {
                "loc": ["body", "audio_urls"],
                "msg": "If audio is provided, at least one reference image or video is required.",
                "type": "value_error",
                "input": args["audio_urls"],
            }
        )
    return issues


def media_urls(args: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    """(location, url) of every media input the model would download: fields named `*_url` or `*_urls`."""
    found: list[tuple[list[str | int], str]] = []
    for name, value in args.items():
        if name.endswith("_url") and isinstance(value, str):
            found.append((["body", name], value))
        elif name.endswith("_urls") and isinstance(value, list):
            found.extend((["body", name, i], v) for i, v in enumerate(value) if isinstance(v, str))
    return found


def failure_for(
    issues: list[dict[str, Any]], args: dict[str, Any], base_url: str, store: FileStore
) -> Failure | None:
    """Why a job with this input (and these validation issues) fails when it runs, or None if it renders."""
    if issues:
        first = issues[0]
        field_name = ".".join(str(p) for p in first["loc"][1:]) or "body"
        return Failure(422, first["type"], f"{field_name}: {first['msg']}", issues)
    media = media_urls(args)
    for loc, url in media:
        if url.startswith("data:"):
            continue
        own = url.startswith(base_url.rstrip("/") + "/")
        if not url.startswith(("http://", "https://")) or (own and store.find_url(url, base_url) is None):
            issue: dict[str, Any] = {
                "loc": loc,
                "msg": _DOWNLOAD_MSG,
                "type": "file_download_error",
                "input": url,
            }
            return Failure(422, "file_download_error", _DOWNLOAD_MSG, [issue])
    match = _MARKER.search(str(args.get("prompt", "")))
    if match is None:
        return None
    if match.group(1) == REAL_FACE:
        # On the first image the model looks at (a reference or start frame), else on the prompt.
        loc = next((loc for loc, _ in media if loc[1] in ("image_urls", "image_url")), ["body", "prompt"])
        face: dict[str, Any] = {
            "loc": loc,
            "msg": _REAL_FACE_MSG,
            "type": "content_policy_violation",
            "ctx": {"reason": "real_person_likeness"},
            "input": args.get("prompt") if loc[1] == "prompt" else next(u for lc, u in media if lc == loc),
        }
        return Failure(422, "content_policy_violation", _REAL_FACE_MSG, [face])
    if match.group(1) == "content_policy" or match.group(3):
        kind = match.group(3) or "content_policy_violation"
        msg = _POLICY_MSG if kind == "content_policy_violation" else f"Simulated model error ({kind})"
        marked: dict[str, Any] = {
            "loc": ["body", "prompt"],
            "msg": msg,
            "type": kind,
            "input": args.get("prompt"),
        }
        return Failure(422, kind, msg, [marked])
    kind = match.group(2)
    status, message = INFRA_ERRORS.get(kind, (500, f"Simulated infrastructure error ({kind})"))
    return Failure(status, kind, message, message)
