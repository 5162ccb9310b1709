"""Media behind a URL, checked before anything is paid for: fetched safely, read only as far as needed.

`probe_url` runs in a worker thread (one per URL; callers run them all at once). It follows the
redirects itself, and before each hop checks the scheme, refuses user:pass in the URL, and refuses a
host that resolves to a private, link-local or loopback address unless the provider itself is on
loopback (`UrlPolicy.allow_loopback`, the simulator): the provider could not fetch such a URL either,
and the server must not be made to read the user's network. The first request is a ranged GET of the
header bytes (many signed URLs refuse HEAD); after it, `RangeReader` lets Pillow and PyAV read the
container's index through ranged GETs, within a byte budget and a deadline. What cannot be read in
time or without ranges comes back as `UrlProbe.unchecked` (the caller turns it into a warning); what
is certainly wrong (4xx, an HTML page, content that is no media) raises `UrlRefused`.
"""

from __future__ import annotations

import atexit
import io
import ipaddress
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from ..config import Settings
from .probe import MediaError, MediaInfo, probe_stream, sniff_kind

HEAD_BYTES: Final = 64 * 1024  # the first ranged GET: every signature, an image header, a moov at the front
BLOCK_BYTES: Final = 64 * 1024  # later ranged reads, aligned so PyAV's small seeks hit the cache
READ_BUDGET_BYTES: Final = 8 * 1000 * 1000  # an index never needs more; a stream that does is unprobable
TAIL_BYTES: Final = 4096  # where an image's end marker must be
MAX_REDIRECTS: Final = 5
URL_CHECK_SECONDS: Final = 8.0  # per URL, all of its requests together
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class UrlRefused(Exception):
    """The URL certainly cannot serve as this input; the text says why (no field, no fix)."""


class _Unprobable(Exception):
    """The URL could not be read far enough to check it; the text says what was missing."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_loopback: bool  # the provider runs on this machine (the simulator), so it can fetch loopback URLs
    seconds: float = URL_CHECK_SECONDS
    budget_bytes: int = READ_BUDGET_BYTES


@dataclass(frozen=True)
class UrlProbe:
    format: str | None  # sniffed from the content; None when nothing could be read
    size_bytes: int | None
    info: MediaInfo | None  # the full probe, when the index could be read
    unchecked: str | None  # what could not be checked, and why; None when fully checked


def credentials_refusal(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return None
    return (
        "the URL carries a user name or password (user:pass@host), which would be sent to the provider and "
        "kept in the job's records. Use a signed URL without user:pass (e.g. a pre-signed S3 or GCS link), "
        "or pass the file's local path"
    )


def probe_url(url: str, policy: UrlPolicy, client: httpx.Client, max_bytes: int) -> UrlProbe:
    """What `url` serves. Raises `UrlRefused`; never raises for a network problem (see `unchecked`).
    A file larger than `max_bytes` is not read further: its size alone refuses it."""
    deadline = time.monotonic() + policy.seconds
    fmt: str | None = None
    size: int | None = None
    try:
        final, answer = _first_bytes(url, policy, client, deadline)
        head = answer.body
        size = _total_size(answer)
        _refuse_html(answer)
        fmt = sniff_kind(head[:64])
        if fmt is None:
            shown = answer.headers.get("content-type", "no content type")
            raise UrlRefused(f"the URL serves content that is no media format we know ({shown})")
        if size is not None and size > max_bytes:
            return UrlProbe(fmt, size, None, None)
        if size is None or answer.status != 206:
            if size is not None and len(head) >= size:  # the whole file came in the first answer
                return UrlProbe(fmt, size, _probe_bytes(head[:size]), None)
            raise _Unprobable("the server does not answer ranged requests, so only the format was read")
        reader = RangeReader(client, final, size, head, deadline, policy.budget_bytes)
        with io.BufferedReader(reader, BLOCK_BYTES) as buffered:  # reads run on across blocks
            info = _probe_reader(buffered, reader, size)
            if info.kind == "image":
                _check_image_end(buffered, reader, info.format, size)
        return UrlProbe(fmt, size, info, None)
    except _Unprobable as exc:
        return UrlProbe(fmt, size, None, str(exc))


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes  # at most HEAD_BYTES: the rest of a 200 answer is never read


_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def _first_bytes(url: str, policy: UrlPolicy, client: httpx.Client, deadline: float) -> tuple[str, _Answer]:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        _check_target(current, policy)
        answer = _get(client, current, f"bytes=0-{HEAD_BYTES - 1}", deadline)
        if answer.status in _REDIRECTS and "location" in answer.headers:
            current = urllib.parse.urljoin(current, answer.headers["location"])
            continue
        if 400 <= answer.status < 500:
            raise UrlRefused(
                f"the URL answers {answer.status} {answer.reason}: the provider could not fetch it either "
                "(an expired or private link?)"
            )
        if answer.status not in (200, 206):
            raise _Unprobable(f"the server answered {answer.status} {answer.reason}")
        return current, answer
    raise UrlRefused(f"the URL redirects more than {MAX_REDIRECTS} times")


def _get(client: httpx.Client, url: str, byte_range: str, deadline: float) -> _Answer:
    """One GET of at most HEAD_BYTES, however much the server would send."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Unprobable("it did not answer in time")
    try:
        with client.stream(
            "GET", url, headers={"Range": byte_range}, timeout=left, follow_redirects=False
        ) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= HEAD_BYTES or time.monotonic() > deadline:
                    break
            return _Answer(response.status_code, response.reason_phrase, response.headers, bytes(body))
    except httpx.TimeoutException:
        raise _Unprobable("it did not answer in time") from None
    except httpx.HTTPError as exc:
        raise _Unprobable(f"it could not be reached from here ({type(exc).__name__})") from None


def _check_target(url: str, policy: UrlPolicy) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlRefused(f"the URL leads to a {parts.scheme}: address; only http(s) is fetched")
    if (reason := credentials_refusal(url)) is not None:
        raise UrlRefused(reason)
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("the URL has no host name")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (OSError, ValueError, UnicodeError):
        raise _Unprobable(f"its host {host} does not resolve from here") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.is_loopback and policy.allow_loopback:
            continue
        if not ip.is_global or ip.is_multicast:
            where = "this machine" if ip.is_loopback else "a private or local network"
            raise UrlRefused(
                f"its host {host} is on {where} ({ip}), which the provider cannot reach and this server "
                "does not fetch. Use a public https:// URL, or pass the file's local path (it will be "
                "uploaded)"
            )


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
        self, client: httpx.Client, url: str, size: int, head: bytes, deadline: float, budget: int
    ) -> None:
        super().__init__()
        self._client, self._url, self._size = client, url, size
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
            answer = _get(self._client, self._url, f"bytes={first}-{last}", self._deadline)
        except _Unprobable as exc:
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
                headers={"User-Agent": "seedance-mcp"}, limits=httpx.Limits(max_connections=48)
            )
            atexit.register(_client.close)
        return _client


def policy_for(settings: Settings) -> UrlPolicy:
    """Loopback URLs are fetched only when the provider is on loopback too (the simulator)."""
    if settings.simulated:
        return UrlPolicy(allow_loopback=True)
    base = settings.oxen_url if settings.provider == "oxen" else settings.fal_queue_url
    return UrlPolicy(allow_loopback=(urlsplit(base).hostname or "").lower() in LOOPBACK_HOSTS)


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
