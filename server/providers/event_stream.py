"""Server-sent events read straight off a streamed response: fal's status stream, Oxen's event stream.

One generator over the response's bytes, where a general SSE client stacks a text decoder, a line
decoder and an event decoder, each a generator of its own: a thousand jobs each hold a status
stream open for minutes, so what one stream keeps alive adds up. Parsed as the HTML standard says:
a line ends with CRLF, LF or CR; `:` starts a comment; a blank line ends an event; `data` lines
are joined with a line feed; an event left unfinished when the stream ends is dropped. Only `event`
and `data` are kept: nothing here reconnects from an `id` or waits a `retry`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import httpx

_LINE_END = re.compile(rb"\r\n|\r|\n")
# A status or an event is a few kilobytes; a line this long is not one, and is not buffered further.
MAX_LINE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Event:
    name: str  # the `event` field; "" when the event had none (a "message")
    data: str


class NotAnEventStream(ValueError):
    """The answer is not `text/event-stream`, or holds a line no event stream would send."""


async def read_events(response: httpx.Response) -> AsyncGenerator[Event, None]:
    """Each event of an open streamed response, until the stream ends (or breaks: httpx raises)."""
    kind = response.headers.get("content-type", "").partition(";")[0].strip()
    if kind != "text/event-stream":
        raise NotAnEventStream(f"expected an event stream, got {kind or 'no content type'!r}")
    pending = b""
    name = ""
    data: list[str] = []
    first = True
    async for chunk in response.aiter_bytes():
        pending += chunk
        # A CR at the end may be the first half of a CRLF: it waits for the next chunk.
        end = len(pending) - 1 if pending.endswith(b"\r") else len(pending)
        *lines, rest = _LINE_END.split(pending[:end])
        pending = rest + pending[end:]
        if len(pending) > MAX_LINE_BYTES:
            raise NotAnEventStream(f"a line of more than {MAX_LINE_BYTES} bytes")
        for raw in lines:
            if first:
                raw, first = raw.removeprefix(b"\xef\xbb\xbf"), False
            if not raw:  # a blank line ends the event
                if data or name:
                    yield Event(name, "\n".join(data))
                name, data = "", []
                continue
            line = raw.decode("utf-8", "replace")
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value
