"""The server-sent event reader (fal's status stream, Oxen's event stream): the standard's line
endings, comments, multi-line data and names, however the bytes are cut into chunks on the way.
The streams themselves are read over real sockets by the fal and Oxen tests against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from seedance_mcp.server.providers.event_stream import (
    MAX_LINE_BYTES,
    Event,
    NotAnEventStream,
    read_events,
)

pytestmark = pytest.mark.anyio

BODY = (
    "\ufeffdata: first\r\n\r\n"  # a byte order mark, then CRLF line ends
    ": a comment, then a ping\n: ping\n\n"  # comments only: no event
    'event: media_generation_completed\ndata: {"a": 1}\n\n'
    "data:no space\rdata:  two spaces\r\r"  # CR line ends; only one space is removed
    "id: 7\nretry: 10\nunknown: x\ndata\n\n"  # a field without a colon: empty data
    "data: line one\r\ndata: line two\r\n\r\n"  # a CRLF cut in two is one line end
    "data: é ✓\n\n"
    "data: left unfinished when the stream ends\n"
).encode()
EXPECTED = [
    Event("", "first"),
    Event("media_generation_completed", '{"a": 1}'),
    Event("", "no space\n two spaces"),
    Event("", ""),
    Event("", "line one\nline two"),
    Event("", "é ✓"),
]


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


async def events_of(
    chunks: list[bytes], content_type: str = "text/event-stream; charset=utf-8"
) -> list[Event]:
    response = httpx.Response(200, headers={"content-type": content_type}, stream=_Chunks(chunks))
    return [event async for event in read_events(response)]


async def test_events_are_read_whatever_the_chunks() -> None:
    assert await events_of([BODY]) == EXPECTED
    # Cut anywhere: inside a CRLF, inside a UTF-8 character, inside the byte order mark.
    for cut in range(1, len(BODY)):
        assert await events_of([BODY[:cut], BODY[cut:]]) == EXPECTED, cut
    assert await events_of([BODY[i : i + 1] for i in range(len(BODY))]) == EXPECTED


async def test_an_answer_that_is_not_an_event_stream_is_refused() -> None:
    with pytest.raises(NotAnEventStream, match="text/html"):
        await events_of([b"data: x\n\n"], content_type="text/html")


async def test_a_line_longer_than_any_event_is_refused() -> None:
    endless = [b"data: " + b"x" * (MAX_LINE_BYTES // 4) for _ in range(5)]
    with pytest.raises(NotAnEventStream, match="line of more than"):
        await events_of(endless)
