"""Media behind a URL, checked before anything is paid for: fetched safely, read only as far as needed.

`probe_url` runs in a worker thread (one per URL; callers run them all at once). Every request goes
through the outbound door (`server.outbound`): each hop checked, the connection pinned to the checked
address, bodies read raw. A loopback URL is fetched only when the provider itself is on loopback
(`UrlPolicy.allow_loopback`, the simulator): the provider could not fetch such a URL either, and the
server must not be made to read the user's network. The first request is a ranged GET of the header
bytes (many signed URLs refuse HEAD); after it, `RangeReader` lets Pillow and PyAV read the
container's index through ranged GETs to the same address, within a byte budget and a deadline. What
cannot be read in time or without ranges comes back as `UrlProbe.unchecked` (the caller turns it into
a warning); what is certainly wrong (4xx, an HTML page, content that is no media, a refused hop, an
unexpected error) raises `UrlRefused`.
"""

from __future__ import annotations

import atexit
import io
import re
import threading
import time
from dataclasses import dataclass
from typing import Final

import httpx

from ..config import Settings
from ..http_pool import tls_context
from ..outbound import (
    LOOPBACK_HOSTS,
    AddressPolicy,
    Hop,
    Refused,
    Unreachable,
    credentials_refusal,
    open_sync,
    origin_of,
)
from .probe import MediaError, MediaInfo, probe_stream, sniff_kind

HEAD_BYTES: Final = 64 * 1024  # the first ranged GET: every signature, an image header, a moov at the front
BLOCK_BYTES: Final = 64 * 1024  # later ranged reads, aligned so PyAV's small seeks hit the cache
READ_BUDGET_BYTES: Final = 8 * 1000 * 1000  # an index never needs more; a stream that does is unprobable
TAIL_BYTES: Final = 4096  # where an image's end marker must be
URL_CHECK_SECONDS: Final = 8.0  # per URL, all of its requests together


class UrlRefused(Exception):
    """The URL certainly cannot serve as this input; the text says why (no field, no fix)."""


class _Unprobable(Exception):
    """The URL could not be read far enough to check it; the text says what was missing."""


@dataclass(frozen=True)
class UrlPolicy(AddressPolicy):
    """Where URLs may lead (`AddressPolicy`), and how long and how much reading one may take."""

    seconds: float = URL_CHECK_SECONDS
    budget_bytes: int = READ_BUDGET_BYTES


@dataclass(frozen=True)
class UrlProbe:
    format: str | None  # sniffed from the content; None when nothing could be read
    size_bytes: int | None
    info: MediaInfo | None  # the full probe, when the index could be read
    unchecked: str | None  # what could not be checked, and why; None when fully checked


def probe_url(url: str, policy: UrlPolicy, client: httpx.Client, max_bytes: int) -> UrlProbe:
    """What `url` serves. Raises `UrlRefused`; never raises for a network problem (see `unchecked`).
    A file larger than `max_bytes` is not read further: its size alone refuses it."""
    deadline = time.monotonic() + policy.seconds
    fmt: str | None = None
    size: int | None = None
    try:
        hop, answer = _first_bytes(url, policy, client, deadline)
        head = answer.body
        size = _total_size(answer)
        _refuse_html(answer)
        fmt = sniff_kind(head[:64])
        if fmt is None:
            shown = answer.headers.get("content-type", "no content type") if hop.describable else "not shown"
            raise UrlRefused(f"the URL serves content that is no media format we know ({shown})")
        if size is not None and size > max_bytes:
            return UrlProbe(fmt, size, None, None)
        if size is None or answer.status != 206:
            if size is not None and len(head) >= size:  # the whole file came in the first answer
                return UrlProbe(fmt, size, _probe_bytes(head[:size]), None)
            raise _Unprobable("the server does not answer ranged requests, so only the format was read")
        reader = RangeReader(client, hop, policy, size, head, deadline, policy.budget_bytes)
        with io.BufferedReader(reader, BLOCK_BYTES) as buffered:  # reads run on across blocks
            info = _probe_reader(buffered, reader, size)
            if info.kind == "image":
                _check_image_end(buffered, reader, info.format, size)
        return UrlProbe(fmt, size, info, None)
    except (_Unprobable, Unreachable) as exc:
        return UrlProbe(fmt, size, None, str(exc))
    except Refused as exc:
        raise UrlRefused(str(exc)) from None


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes  # at most HEAD_BYTES: the rest of a 200 answer is never read


def _first_bytes(url: str, policy: UrlPolicy, client: httpx.Client, deadline: float) -> tuple[Hop, _Answer]:
    hop, answer = _get(client, url, policy, f"bytes=0-{HEAD_BYTES - 1}", deadline)
    if 400 <= answer.status < 500:
        said = f"answers {answer.status} {answer.reason}" if hop.describable else "refuses to serve it"
        raise UrlRefused(
            f"the URL {said}: the provider could not fetch it either (an expired or private link?)"
        )
    if answer.status not in (200, 206):
        raise _Unprobable(f"the server answered {answer.status}" if hop.describable else "the server failed")
    return hop, answer


def _get(
    client: httpx.Client,
    url: str,
    policy: UrlPolicy,
    byte_range: str,
    deadline: float,
    hop: Hop | None = None,
) -> tuple[Hop, _Answer]:
    """One GET of at most HEAD_BYTES raw bytes, however much the server would send, through the door."""
    with open_sync(
        client,
        url,
        policy,
        headers={"Range": byte_range},
        timeout=lambda: deadline - time.monotonic(),
        hop=hop,
    ) as (final, response):
        body = bytearray()
        try:
            for chunk in response.iter_raw():
                body += chunk
                if len(body) >= HEAD_BYTES or time.monotonic() > deadline:
                    break
        except httpx.TimeoutException:
            raise Unreachable("it did not answer in time") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"it broke off while answering ({type(exc).__name__})") from None
        return final, _Answer(response.status_code, response.reason_phrase, response.headers, bytes(body))


def _total_size(answer: _Answer) -> int | None:
    if answer.status == 206:
        match = re.search(r"/(\d+)\s*$", answer.headers.get("content-range", ""))
        return int(match.group(1)) if match else None
    length = answer.headers.get("content-length", "")
    return int(length) if length.isdigit() else None


_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<\?xml)", re.IGNORECASE)


def _refuse_html(answer: _Answer) -> None:
    kind = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml") or _HTML.match(answer.body[:512]):
        raise UrlRefused(
            "the URL serves a web page (HTML), not the media file itself: open the page and copy the "
            "address of the image, video or audio"
        )


def _probe_bytes(data: bytes) -> MediaInfo:
    try:
        return probe_stream(io.BytesIO(data), len(data), decode_images=True)
    except MediaError as exc:
        raise UrlRefused(f"the file behind the URL cannot be used: {exc}") from None


def _probe_reader(buffered: io.BufferedReader[RangeReader], reader: RangeReader, size: int) -> MediaInfo:
    try:
        return probe_stream(buffered, size, decode_images=False)
    except MediaError as exc:
        if reader.stopped is not None:
            raise _Unprobable(reader.stopped) from None
        raise UrlRefused(f"the file behind the URL cannot be used: {exc}") from None
    except _Unprobable:
        raise
    except Exception as exc:  # a reader error surfacing through Pillow or PyAV
        if reader.stopped is not None:
            raise _Unprobable(reader.stopped) from None
        raise _Unprobable(f"its content could not be read ({type(exc).__name__})") from None


_END_MARKERS: Final = {"png": b"IEND", "jpeg": b"\xff\xd9", "gif": b"\x3b"}


def _check_image_end(
    buffered: io.BufferedReader[RangeReader], reader: RangeReader, fmt: str, size: int
) -> None:
    """A cut-off download lacks its end marker: read the tail instead of the whole picture."""
    marker = _END_MARKERS.get(fmt)
    if marker is None:
        return  # WebP and AVIF: their headers declare the size, which `probe_stream` compared already
    buffered.seek(max(0, size - TAIL_BYTES))
    tail = buffered.read(TAIL_BYTES).rstrip(b"\0")  # some writers pad a file with zeros after the end
    if reader.stopped is not None:
        raise _Unprobable(reader.stopped)
    if tail and marker not in tail:
        raise UrlRefused(f"the {fmt.upper()} image behind the URL is truncated (it has no end marker)")


class RangeReader(io.RawIOBase):
    """A seekable, read-only view of a URL through ranged GETs, cached in aligned blocks.

    Past its deadline or byte budget it sets `stopped` and reads as end of file, so a decoder fails
    fast and the caller reports the URL as unprobable rather than broken.
    """

    def __init__(
        self,
        client: httpx.Client,
        hop: Hop,
        policy: UrlPolicy,
        size: int,
        head: bytes,
        deadline: float,
        budget: int,
    ) -> None:
        super().__init__()
        self._client, self._hop, self._policy, self._size = client, hop, policy, size
        self._deadline, self._budget = deadline, budget
        self._blocks: dict[int, bytes] = {}
        self._position = 0
        self._fetched = len(head)
        self.stopped: str | None = None
        for start in range(0, len(head) - BLOCK_BYTES + 1, BLOCK_BYTES):
            self._blocks[start // BLOCK_BYTES] = head[start : start + BLOCK_BYTES]
        if len(head) >= size:
            self._blocks[len(head) // BLOCK_BYTES] = head[len(head) // BLOCK_BYTES * BLOCK_BYTES :]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._position)
        if want <= 0 or self.stopped is not None:
            return 0
        index = self._position // BLOCK_BYTES
        block = self._block(index)
        if block is None:
            return 0
        start = self._position - index * BLOCK_BYTES
        chunk = block[start : start + want]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def _block(self, index: int) -> bytes | None:
        if index in self._blocks:
            return self._blocks[index]
        first = index * BLOCK_BYTES
        last = min(self._size, first + BLOCK_BYTES) - 1
        if self._fetched + (last - first + 1) > self._budget:
            self.stopped = f"reading its index would take more than {self._budget // 1_000_000} MB"
            return None
        try:
            _, answer = _get(
                self._client, self._hop.url, self._policy, f"bytes={first}-{last}", self._deadline, self._hop
            )
        except (Unreachable, Refused) as exc:  # the address was checked: a refusal here is a redirect's
            self.stopped = str(exc)
            return None
        if answer.status != 206 or len(answer.body) != last - first + 1:
            self.stopped = f"a ranged read answered {answer.status} with {len(answer.body)} bytes"
            return None
        self._fetched += len(answer.body)
        self._blocks[index] = answer.body
        return answer.body


_client_lock = threading.Lock()
_client: httpx.Client | None = None


def shared_client() -> httpx.Client:
    """One blocking client for every probe thread (httpx clients are thread-safe): building one loads
    the CA bundle, which costs more than checking a dozen URLs on a fast network."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                headers={"User-Agent": "seedance-mcp"},
                limits=httpx.Limits(max_connections=48),
                verify=tls_context(),
            )
            atexit.register(_client.close)
        return _client


def policy_for(settings: Settings) -> UrlPolicy:
    """Loopback URLs are fetched only when the provider is on loopback too (the simulator)."""
    if settings.simulated:
        return UrlPolicy(allow_loopback=True)
    base = settings.oxen_url if settings.provider == "oxen" else settings.fal_queue_url
    host = origin_of(base).partition("://")[2].rpartition(":")[0].strip("[]")
    return UrlPolicy(allow_loopback=host in LOOPBACK_HOSTS)


__all__ = [
    "LOOPBACK_HOSTS",
    "RangeReader",
    "UrlPolicy",
    "UrlProbe",
    "UrlRefused",
    "credentials_refusal",
    "policy_for",
    "probe_url",
    "shared_client",
]
