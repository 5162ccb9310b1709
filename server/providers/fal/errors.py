"""fal.ai's error answers as sentences that say what happened and what to do.

fal names infrastructure failures with an `error_type` (body field or `X-Fal-Error-Type` header) and
model input failures with a pydantic-style `detail` list (422). Every sentence passes through the
caller's `safe` (redaction), because an error body may echo what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from ...errors import JobFailed, ProviderError, ProviderHTTPError, SubmitUncertain
from .._http import read_error
from ..redaction import one_line, provider_quote, provider_says
from ..refusals import LIKENESS_ADVICE, REAL_PERSON_LIKENESS

KEY_HINT = "check FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET); keys are made at https://fal.ai/dashboard/keys"
BILLING_URL = "https://fal.ai/dashboard/billing"

# fal's infrastructure error types (result endpoint, `error_type` field or X-Fal-Error-Type header):
# what happened, and what to do. `runner_connection_*` is matched by prefix.
ERROR_TYPES: dict[str, str] = {
    "request_timeout": "the job ran longer than fal.ai allows and was stopped; try again, "
    "or ask for a shorter duration or 480p",
    "startup_timeout": "fal.ai could not start a worker for the job in time; try again in a few minutes",
    "runner_scheduling_failure": "fal.ai could not find a worker to run the job; try again in a few minutes",
    "runner_disconnected": "the worker running the job disconnected before finishing; try again",
    "runner_connection_": "fal.ai lost its connection to the worker running the job; try again",
    "runner_incomplete_response": "the worker sent back an incomplete answer; try again",
    "runner_server_error": "the model failed while generating; try again, and if it keeps failing "
    "change the prompt or the input media",
    "internal_error": "fal.ai had an internal error; try again later (service status: https://status.fal.ai)",
    "client_cancelled": "the job was cancelled before it finished; submit it again if you still want it",
    "bad_request": "fal.ai rejected the request as malformed; check the inputs against the documented limits",
}

# Model error types in a 422 `detail` list, with the fix to suggest.
DETAIL_FIXES: dict[str, str] = {
    "content_policy_violation": "rephrase the prompt (or replace the flagged media) so it stays within "
    "fal.ai's content policy, then try again",
    "file_download_error": "make sure the URL is public and points at the file itself, or pass a local file",
    "file_too_large": "use a smaller file (see the documented size limits)",
    "image_too_large": "use a smaller image (see the documented size limits)",
    "no_media_generated": "the model produced no video; try again or change the prompt",
    "feature_not_supported": "drop that option or pick a mode that supports it",
    "missing": "add this field",
    "literal_error": "use one of the documented values",
    "enum": "use one of the documented values",
}

# Issue types by which fal's schema refuses a field. The server checks every field before sending, so
# such a refusal means fal's schema and the server's facts no longer agree.
SCHEMA_ISSUES = frozenset(
    {
        "literal_error",
        "enum",
        "missing",
        "extra_forbidden",
        "string_type",
        "int_type",
        "bool_type",
        "list_type",
        "too_long",
        "too_short",
        "string_too_short",
        "greater_than_equal",
        "less_than_equal",
    }
)
SCHEMA_HINT = (
    "fal.ai's schema for this endpoint may have changed since the server's facts were written: "
    "run `seedance-mcp doctor --models` to see what differs"
)

Safe = Callable[[str], str]


def schema_hint(details: list[Any]) -> str:
    """A sentence to add when a 422 refuses a field by fal's schema (empty otherwise)."""
    refused = any(isinstance(d, dict) and d.get("type") in SCHEMA_ISSUES for d in details)
    return f". {SCHEMA_HINT}." if refused else ""


def error_type_sentence(error_type: str) -> str | None:
    if error_type in ERROR_TYPES:
        return ERROR_TYPES[error_type]
    if error_type.startswith("runner_connection"):
        return ERROR_TYPES["runner_connection_"]
    return None


MAX_DETAIL_ITEMS = 10  # a 422 list longer than this is cut: the first problems are enough to act on


def identity(text: str) -> str:
    return text


def render_detail_list(details: list[Any], safe: Safe = identity) -> str:
    """A 422 `detail` list as `field: “message” (fix: ...)` items joined by `; `: fal's words quoted
    (redacted, one line, bounded), our fixes outside the quotes."""
    parts: list[str] = []
    for item in details[:MAX_DETAIL_ITEMS]:
        if not isinstance(item, dict):
            parts.append(provider_quote(safe(str(item))))
            continue
        loc = [str(p) for p in item.get("loc") or [] if p not in ("body",)]
        where = one_line(safe(".".join(loc)), 80)
        msg = provider_quote(safe(str(item.get("msg") or item.get("type") or "invalid value")))
        kind = str(item.get("type") or "")
        fix = DETAIL_FIXES.get(kind) or (f"change {where} to a documented value" if where else "")
        text = f"{where}: {msg}" if where else msg
        parts.append(f"{text} (fix: {fix})" if fix else text)
    if len(details) > MAX_DETAIL_ITEMS:
        parts.append(f"and {len(details) - MAX_DETAIL_ITEMS} more")
    return "; ".join(parts)


def detail_text(detail: Any, body_text: str, safe: Safe) -> str:
    """An error answer's detail (or its body) as fal's words: quoted, attributed, redacted, bounded."""
    if isinstance(detail, list):
        return "fal.ai says: " + render_detail_list(detail, safe)
    if detail is None or detail == "":
        text = body_text
    else:
        text = detail if isinstance(detail, str) else json.dumps(detail)
    return provider_says("fal.ai", safe(text)) if text else ""


def http_error(
    response: httpx.Response, *, action: str, safe: Safe, nothing_queued: bool = False
) -> ProviderHTTPError:
    """An error answer outside a job's own failure, as a sentence."""
    body = read_error(response)
    status = body.status
    detail = detail_text(body.detail, body.text, safe)
    if status == 401:
        message = f"fal.ai rejected the API key (401) while {action}: {KEY_HINT}."
    elif status == 403:
        if any(word in detail.lower() for word in ("balance", "locked", "billing")):
            message = (
                f"fal.ai refused the request (403): the account is locked ({detail}). "
                f"Top up at {BILLING_URL}, then try again."
            )
        else:
            message = (
                f"fal.ai refused the request (403) while {action}: {detail}. Check the key's permissions."
            )
    elif status == 422 and isinstance(body.detail, list):
        message = f"fal.ai rejected the input: {render_detail_list(body.detail, safe)}"
        message += schema_hint(body.detail)
    elif status == 429:
        message = (
            "fal.ai is at this account's limit of concurrent requests (429) and refused "
            f"{action}{'; nothing was queued' if nothing_queued else ''}. "
            "Wait for running jobs to finish, then try again."
        )
    elif status == 404:
        message = f"fal.ai found nothing at {response.request.url.path} (404) while {action}: {detail}."
    elif body.error_type and error_type_sentence(body.error_type):
        sentence = error_type_sentence(body.error_type)
        message = f"fal.ai failed while {action} ({status}, {body.error_type}): {sentence}."
    elif status >= 500:
        message = f"fal.ai had a server error ({status}) while {action}: {detail}. Try again in a minute."
    else:
        message = f"fal.ai answered {status} while {action}: {detail}."
    return ProviderHTTPError(message, status=status, error_type=body.error_type)


def result_error(request_id: str, response: httpx.Response, *, safe: Safe) -> ProviderError:
    """The result endpoint's error: a job's own failure is JobFailed; access problems stay HTTP errors."""
    body = read_error(response)
    if isinstance(body.detail, list) and body.detail:
        types = [str(d.get("type")) for d in body.detail if isinstance(d, dict) and d.get("type")]
        rendered = render_detail_list(body.detail, safe)
        reasons = [d.get("ctx", {}).get("reason") for d in body.detail if isinstance(d, dict)]
        if REAL_PERSON_LIKENESS in reasons:
            return JobFailed(
                f"fal.ai refused job {request_id}: {rendered}. {LIKENESS_ADVICE}",
                error_type=REAL_PERSON_LIKENESS,
                charged=False,
            )
        if "content_policy_violation" in types:
            return JobFailed(
                f"fal.ai refused job {request_id} under its content policy: {rendered}",
                error_type="content_policy_violation",
            )
        return JobFailed(
            f"fal.ai rejected the input of job {request_id}: {rendered}{schema_hint(body.detail)}",
            error_type=types[0] if types else None,
        )
    if body.error_type:
        sentence = error_type_sentence(body.error_type) or "the job failed"
        detail = detail_text(body.detail, "", safe)
        extra = f" ({detail})" if detail else ""
        return JobFailed(
            f"Job {request_id} failed ({body.error_type}): {sentence}{extra}.", error_type=body.error_type
        )
    if response.status_code == 404:
        return ProviderHTTPError(
            f"fal.ai has no result for job {request_id} (404): fal.ai keeps results about an hour.",
            status=404,
        )
    if response.status_code in (400, 422):
        detail = detail_text(body.detail, body.text, safe)
        return JobFailed(f"Job {request_id} failed: {detail}", error_type=None)
    return http_error(response, action=f"fetching the result of job {request_id}", safe=safe)


def submit_uncertain(endpoint: str, what: str, *, safe: Safe) -> SubmitUncertain:
    return SubmitUncertain(
        f"The submit to fal.ai ({endpoint}) may or may not have been received ({one_line(safe(what))}): "
        "a job may exist and be charged. Do not resubmit blindly; first look for a new request "
        "at https://fal.ai/dashboard/requests."
    )


def unreadable(response: httpx.Response, what: str, *, safe: Safe) -> ProviderError:
    return ProviderError(
        f"fal.ai sent an unreadable {what} answer ({response.status_code}): "
        f"{provider_says('fal.ai', safe(response.text[:2000]))}"
    )
