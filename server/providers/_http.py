"""HTTP helpers shared by the providers: retry with backoff, the User-Agent, error bodies, file uploads.

Providers send every request through `send_with_retry`, which knows which failures are worth another try
and which are answers. It never turns a response into an exception: the caller maps the final response to
a sentence (see `server.errors`). Transport failures that outlast the retries are re-raised as they are,
so the caller can tell "never connected" from "may have been received".
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from ..errors import (
    RETRYABLE_STATUS,
    SERVER_ERROR_STATUS,
    ProviderError,
    ProviderUnreachable,
    SubmitUncertain,
)
from .redaction import one_line

logger = logging.getLogger(__name__)

# Chunk read from disk per body write: small enough that a 50 MB upload keeps memory flat,
# large enough that thread hops for file reads stay cheap.
FILE_CHUNK_BYTES = 256 * 1024


def user_agent() -> str:
    from .. import __version__

    return f"seedance-mcp/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request. Each number says why it is what it is."""

    # Five tries ride out a blip of several seconds without hiding a real outage for long.
    max_attempts: int = 5
    # fal's JS client polls every 0.5 s: the first retry comes about as soon as a poll would.
    base_delay: float = 0.5
    # Doubling stops here so a late retry still comes while the user is waiting.
    max_delay: float = 8.0
    # Honour Retry-After, but never sleep longer than this on one answer's say-so.
    retry_after_cap: float = 20.0
    # Hosts cut a tool call off at about 60 s and we wait 45 s by default: one request gets at most 30 s.
    deadline: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        backoff = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        # Jitter (0.5x–1.5x) keeps many jobs that failed together from retrying in lockstep.
        jittered: float = backoff * random.uniform(0.5, 1.5)
        return min(jittered, self.max_delay)


DEFAULT_POLICY = RetryPolicy()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import datetime as dt

    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max((when - dt.datetime.now(dt.timezone.utc)).total_seconds(), 0.0)


@dataclass(frozen=True)
class ErrorBody:
    """What an error answer says: `detail` is fal's field (text, or a list of validation errors)."""

    status: int
    detail: Any
    error_type: str | None
    text: str


def read_error(response: httpx.Response) -> ErrorBody:
    """Parse an (already read) error answer without ever raising."""
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        text = ""
    body: Any = None
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead, UnicodeDecodeError):
        body = None
    detail: Any = None
    error_type: str | None = None
    if isinstance(body, dict):
        detail = body.get("detail", body.get("error", body.get("message")))
        raw_type = body.get("error_type")
        error_type = raw_type if isinstance(raw_type, str) and raw_type else None
    if error_type is None:
        error_type = response.headers.get("x-fal-error-type") or None
    if error_type is not None:  # a provider's word, shown in sentences: one short line
        error_type = one_line(error_type, 80)
    return ErrorBody(status=response.status_code, detail=detail, error_type=error_type, text=text.strip())


def is_transient(response: httpx.Response) -> bool:
    """True for answers worth repeating the same request for (`errors.RETRYABLE_STATUS`), except a
    server error that names an error type: fal's result endpoint answers so for a job that really failed."""
    status = response.status_code
    if status in SERVER_ERROR_STATUS:
        return read_error(response).error_type is None
    return status in RETRYABLE_STATUS


def never_connected(exc: httpx.TransportError) -> bool:
    """True when the request provably never left this machine, so repeating it cannot duplicate anything."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def describe_transport_error(exc: httpx.TransportError) -> str:
    """A short description: httpx messages name no headers, so no secret is in them."""
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def send_with_retry(
    client: httpx.AsyncClient,
    make_request: Callable[[], httpx.Request],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    idempotent: bool = True,
    stream: bool = False,
) -> httpx.Response:
    """Send a request, repeating it while the failure is transient, and return the last answer.

    `make_request` builds a fresh request per attempt (a streamed body cannot be replayed).
    With `idempotent=False` only failures that prove nothing was done are repeated: no connection
    was made, or the server refused with 429. Any other transport error is raised at once.
    With `stream=True` the returned response is open and the caller must close it.
    Transport errors still failing after the last attempt are re-raised unchanged.
    """
    deadline = anyio.current_time() + policy.deadline
    attempt = 0
    while True:
        attempt += 1
        request = make_request()
        try:
            response = await client.send(request, stream=stream)
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.LocalProtocolError) or (not idempotent and not never_connected(exc)):
                raise
            delay = policy.delay(attempt)
            if attempt >= policy.max_attempts or anyio.current_time() + delay > deadline:
                raise
            logger.info(
                "%s %s failed (%s); retry %d in %.1f s",
                request.method,
                request.url.path,
                describe_transport_error(exc),
                attempt,
                delay,
            )
            await anyio.sleep(delay)
            continue

        if stream and response.status_code not in RETRYABLE_STATUS:
            return response
        if stream:
            await response.aread()
        retryable = response.status_code == 429 if not idempotent else is_transient(response)
        if not retryable:
            return response
        delay = policy.delay(attempt, parse_retry_after(response.headers.get("retry-after")))
        if attempt >= policy.max_attempts or anyio.current_time() + delay > deadline:
            return response
        if stream:
            await response.aclose()
        logger.info(
            "%s %s answered %d; retry %d in %.1f s",
            request.method,
            request.url.path,
            response.status_code,
            attempt,
            delay,
        )
        await anyio.sleep(delay)


async def send_reachable(
    client: httpx.AsyncClient,
    make_request: Callable[[], httpx.Request],
    *,
    policy: RetryPolicy,
    provider: str,
    action: str,
    safe: Callable[[str], str],
) -> httpx.Response:
    """`send_with_retry` for idempotent calls; a network that stays down is told as a sentence."""
    try:
        return await send_with_retry(client, make_request, policy=policy)
    except httpx.LocalProtocolError as exc:
        raise _unsendable(provider, action, safe(describe_transport_error(exc)), "nothing was sent") from None
    except httpx.TransportError as exc:
        raise ProviderUnreachable(
            f"Could not reach {provider} while {action} ({safe(describe_transport_error(exc))}); "
            "check the network connection and try again."
        ) from None


async def submit_once(
    client: httpx.AsyncClient,
    make_request: Callable[[], httpx.Request],
    *,
    policy: RetryPolicy,
    provider: str,
    base: str,
    safe: Callable[[str], str],
    uncertain: Callable[[str], SubmitUncertain],
) -> httpx.Response:
    """Send a paid submit, repeated only when nothing can have been queued; a 5xx or a broken
    exchange after sending is `uncertain`, never retried. Returns any answer below 500."""
    try:
        response = await send_with_retry(client, make_request, policy=policy, idempotent=False)
    except httpx.LocalProtocolError as exc:
        what = "nothing was submitted and nothing was charged"
        raise _unsendable(provider, "submitting", safe(describe_transport_error(exc)), what) from None
    except httpx.TransportError as exc:
        if never_connected(exc):
            raise ProviderUnreachable(
                f"Could not connect to {provider} at {base} ({safe(describe_transport_error(exc))}); "
                "nothing was submitted and nothing was charged. Check the network and try again."
            ) from None
        raise uncertain(describe_transport_error(exc)) from None
    if response.status_code >= 500:
        raise uncertain(f"{provider} answered {response.status_code}")
    return response


def _unsendable(provider: str, action: str, reason: str, consequence: str) -> ProviderError:
    # httpx refused to send what we built (a header with a line break, say): not a network problem,
    # and nothing reached the provider, so it is neither "unreachable" nor "uncertain".
    return ProviderError(
        f"The request to {provider} while {action} could not be sent: it is not valid HTTP ({reason}); "
        f"{consequence}. Check the API key setting for stray characters; otherwise please report this."
    )


async def file_chunks(path: Path, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
    """Yield a file's bytes (or `length` bytes from `offset`) in small chunks read off the event loop."""
    remaining = length
    async with await anyio.open_file(path, "rb") as handle:
        if offset:
            await handle.seek(offset)
        while remaining is None or remaining > 0:
            size = FILE_CHUNK_BYTES if remaining is None else min(FILE_CHUNK_BYTES, remaining)
            chunk = await handle.read(size)
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def ascii_file_name(name: str, default: str = "upload") -> str:
    """An ASCII-safe form of a file name for a provider's storage (a header or a form field), keeping
    the extension: `café 🎬.png` -> `cafe_.png`. Our own records keep the user's name."""
    stem, dot, ext = name.rpartition(".") if "." in name.strip(".") else (name, "", "")

    def clean(text: str) -> str:
        # Accents fold to their base letter; anything else outside [A-Za-z0-9._-] becomes one `_`.
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        return re.sub(r"[^A-Za-z0-9._-]+", "_", folded)

    stem, ext = clean(stem).strip("._")[:100] or default, clean(ext).strip("._")[:16]
    return f"{stem}.{ext}" if dot and ext else stem
