"""Oxen.ai's error answers (both of its shapes) as sentences that say what happened and what to do."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx

from ...errors import ProviderHTTPError, SubmitUncertain
from ..redaction import one_line, provider_says
from ..refusals import LIKENESS_ADVICE, is_likeness

KEY_HINT = "check OXEN_API_KEY (keys are in your Oxen.ai account settings)"

# The documented error messages (seed) and what to do about each.
DOCUMENTED_FIXES: dict[str, str] = {
    "field required": "prompt is required: give a text prompt",
    "too many input files": "at most 12 reference files in all (9 images, 3 videos, 3 audio): remove some",
    "audio requires at least one image or video": "audio_urls needs at least one reference image or video: "
    "add one to image_urls or video_urls, or drop the audio",
    "invalid duration": 'duration must be "auto" or "4" through "15"',
    "invalid resolution": 'resolution must be "480p" or "720p"',
    "num_generations must be an integer between 1 and 4": "num_generations must be 1, 2, 3 or 4",
    "insufficient credits": "the Oxen.ai account is out of credits: add credits in your Oxen.ai billing "
    "settings, then try again",
}

# Messages by which Oxen's model schema refuses a field. The server checks every field before sending, so
# such a refusal means Oxen's schema and the server's facts no longer agree.
_SCHEMA_REFUSAL = re.compile(
    r"(invalid [a-z_]+|unknown (field|parameter)\b.*|.* is not (allowed|permitted))", re.I
)
SCHEMA_HINT = (
    "Oxen.ai's model schema may have changed since the server's facts were written: "
    "run `seedance-mcp doctor --models` to see what differs"
)

LOST_BLOCKING = (
    "The blocking Oxen.ai request was lost when the server restarted; a video may have been made and "
    "charged. Check your Oxen.ai account before trying again."
)

Safe = Callable[[str], str]


def explain(message: str, safe: Safe) -> str:
    """Oxen's message as its own words (redacted by `safe` first, then one line, bounded, quoted and
    attributed), with the fix for the documented ones and the schema hint for a refused field."""
    key = message.strip().rstrip(".").lower()
    said = provider_says("Oxen.ai", safe(message))
    if is_likeness(key):
        return f"{said} {LIKENESS_ADVICE}"
    fix = DOCUMENTED_FIXES.get(key)
    if _SCHEMA_REFUSAL.fullmatch(key):
        fix = f"{fix}; {SCHEMA_HINT}" if fix else SCHEMA_HINT
    return f"{said} (fix: {fix})" if fix else said


def parse_error(response: httpx.Response) -> tuple[str | None, str]:
    """(type, message) from either of Oxen's error shapes, never raising."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text.strip()[:300] or f"HTTP {response.status_code}"
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        kind = err.get("type")
        text = err.get("detail") or err.get("message") or err.get("title")
        if not text and isinstance(body, dict):
            text = body.get("status_message")
        return (str(kind) if kind else None), str(text or kind or f"HTTP {response.status_code}")
    if isinstance(err, str):
        return None, err
    return None, json.dumps(body)[:300]


def http_error(
    response: httpx.Response, *, action: str, safe: Safe, nothing_queued: bool = False
) -> ProviderHTTPError:
    kind, message = parse_error(response)
    status = response.status_code
    detail = explain(message, safe)
    kind = one_line(safe(kind), 80) if kind else None
    what = f"{status}, {kind}" if kind else str(status)
    if status == 401 or kind == "unauthenticated":
        text = f"Oxen.ai rejected the API key (401) while {action}: {KEY_HINT}."
    elif status == 404 and kind == "resource_not_found":
        text = f"Oxen.ai found nothing (404) while {action}: {detail}."
    elif status == 429:
        text = (
            f"Oxen.ai is rate-limiting this account (429) and refused {action}"
            f"{'; nothing was queued' if nothing_queued else ''}. Wait a minute, then try again."
        )
    elif status >= 500:
        text = f"Oxen.ai had a server error ({what}) while {action}: {detail}."
    else:
        text = f"Oxen.ai refused the request ({what}) while {action}: {detail}"
    return ProviderHTTPError(text, status=status, error_type=kind)


def submit_uncertain(model: str, what: str, *, safe: Safe) -> SubmitUncertain:
    return SubmitUncertain(
        f"The request to Oxen.ai ({model}) may or may not have been received ({safe(what)}): "
        "generations may exist and be charged. Do not resubmit blindly; first look at your queue "
        "(GET /api/ai/queue) or your Oxen.ai account."
    )


def expired(generation_id: str) -> str:
    return (
        f"Oxen.ai no longer knows generation {generation_id} (404): Oxen forgets generations about a day "
        "after they finish. If it had finished, its video was saved then; otherwise generate it again."
    )
