"""What a Seedance 2.0 request's input must be, and why a job fails before it renders.

`check_input` gives fal-style (pydantic-shaped) issues; `failure_for` turns the first issue, an input
URL the model could not download, or a `[sim:...]` marker in the prompt into the job's `Failure`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..catalogue.facts import (
    ASPECT_RATIOS,
    DURATIONS,
    MAX_AUDIOS,
    MAX_FILES,
    MAX_IMAGES,
    MAX_VIDEOS,
    RESOLUTIONS,
    Mode,
)
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

_MARKER = re.compile(r"\[sim:(content_policy|error=([a-z0-9_]+)|detail=([a-z0-9_]+))\]")
_DOWNLOAD_MSG = "Failed to download the file. Please check if the URL is accessible and try again."
_POLICY_MSG = "The content could not be processed because it was flagged by a content checker."


@dataclass(frozen=True)
class Failure:
    """Why a job ended without a video. `detail` is a list for 422s, a string otherwise."""

    status: int
    error_type: str
    message: str
    detail: list[dict[str, Any]] | str


def _literal_issue(name: str, value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    quoted = [f"'{a}'" for a in allowed]
    expected = ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
    return {
        "loc": ["body", name],
        "msg": f"Input should be {expected}",
        "type": "literal_error",
        "ctx": {"expected": expected},
        "input": value,
    }


def check_input(mode: Mode, args: dict[str, Any]) -> list[dict[str, Any]]:
    """fal-style (pydantic-shaped) validation issues for a Seedance 2.0 input; empty when valid."""
    issues: list[dict[str, Any]] = []

    def string(name: str, *, required: bool = False) -> None:
        if name not in args or args[name] is None:
            if required:
                issues.append(
                    {"loc": ["body", name], "msg": "Field required", "type": "missing", "input": args}
                )
            return
        value = args[name]
        if not isinstance(value, str):
            issues.append(
                {
                    "loc": ["body", name],
                    "msg": "Input should be a valid string",
                    "type": "string_type",
                    "input": value,
                }
            )
        elif required and not value.strip():
            issues.append(
                {
                    "loc": ["body", name],
                    "msg": "String should have at least 1 character",
                    "type": "string_too_short",
                    "ctx": {"min_length": 1},
                    "input": value,
                }
            )

    def literal(name: str, allowed: tuple[str, ...]) -> None:
        if name in args and args[name] not in allowed:
            issues.append(_literal_issue(name, args[name], allowed))

    def url_list(name: str, limit: int) -> int:
        value = args.get(name)
        if value is None:
            return 0
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            issues.append(
                {
                    "loc": ["body", name],
                    "msg": "Input should be a valid list of strings",
                    "type": "list_type",
                    "input": value,
                }
            )
            return 0
        if len(value) > limit:
            issues.append(
                {
                    "loc": ["body", name],
                    "msg": f"List should have at most {limit} items after validation, not {len(value)}",
                    "type": "too_long",
                    "ctx": {"field_type": "List", "max_length": limit, "actual_length": len(value)},
                    "input": value,
                }
            )
        return len(value)

    string("prompt", required=True)
    literal("resolution", RESOLUTIONS)
    literal("duration", DURATIONS)
    literal("aspect_ratio", ASPECT_RATIOS)
    if "generate_audio" in args and not isinstance(args["generate_audio"], bool):
        issues.append(
            {
                "loc": ["body", "generate_audio"],
                "msg": "Input should be a valid boolean",
                "type": "bool_type",
                "input": args["generate_audio"],
            }
        )
    seed = args.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        issues.append(
            {
                "loc": ["body", "seed"],
                "msg": "Input should be a valid integer",
                "type": "int_type",
                "input": seed,
            }
        )
    string("end_user_id")
    if mode == "image-to-video":
        string("image_url", required=True)
        string("end_image_url")
    elif mode == "reference-to-video":
        images = url_list("image_urls", MAX_IMAGES)
        videos = url_list("video_urls", MAX_VIDEOS)
        audios = url_list("audio_urls", MAX_AUDIOS)
        if images + videos + audios > MAX_FILES:
            issues.append(
                {
                    "loc": ["body"],
                    "msg": f"Total files across all modalities must not exceed {MAX_FILES}",
                    "type": "value_error",
                    "input": images + videos + audios,
                }
            )
        if audios and not (images or videos):
            issues.append(
                {
                    "loc": ["body", "audio_urls"],
                    "msg": "If audio is provided, at least one reference image or video is required.",
                    "type": "value_error",
                    "input": args["audio_urls"],
                }
            )
    return issues


def media_urls(mode: Mode, args: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    """(location, url) of every media input the model would download."""
    found: list[tuple[list[str | int], str]] = []  # (loc, url)
    if mode == "image-to-video":
        for name in ("image_url", "end_image_url"):
            if isinstance(args.get(name), str):
                found.append((["body", name], args[name]))
    elif mode == "reference-to-video":
        for name in ("image_urls", "video_urls", "audio_urls"):
            value = args.get(name)
            if isinstance(value, list):
                found.extend((["body", name, i], v) for i, v in enumerate(value) if isinstance(v, str))
    return found


def failure_for(mode: Mode, args: dict[str, Any], base_url: str, store: FileStore) -> Failure | None:
    """Why a job with this input fails when it runs, or None if it renders."""
    issues = check_input(mode, args)
    if issues:
        first = issues[0]
        field_name = ".".join(str(p) for p in first["loc"][1:]) or "body"
        return Failure(422, first["type"], f"{field_name}: {first['msg']}", issues)
    for loc, url in media_urls(mode, args):
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
