"""Local media: what a file really is, from its first bytes (sniff) and its headers (probe).

`sniff_kind` names a format from its first bytes, before anything heavy is imported. `probe` reads
container metadata only for video and audio (PyAV), and decodes images (Pillow) so that a truncated
one is refused; `probe_stream` does the same on any seekable reader, such as ranged reads of a URL.
Everything here is synchronous; async callers use `anyio.to_thread`. Previews of a finished video
live in `seedance_mcp.server.delivery.previews`.
PyAV and Pillow are imported inside the functions so that importing this module is free.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal

from ..errors import MediaError

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

MediaKind = Literal["image", "video", "audio"]

KIND: Final[dict[str, MediaKind]] = {
    "jpeg": "image",
    "png": "image",
    "webp": "image",
    "gif": "image",
    "avif": "image",
    "mp4": "video",
    "mov": "video",
    "mp3": "audio",
    "wav": "audio",
}
MIME: Final[dict[str, str]] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "avif": "image/avif",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
}
# Formats `sniff_kind` recognises only so that a refusal can say what the file is.
UNSUPPORTED: Final[dict[str, str]] = {
    "heic": "HEIC image",
    "bmp": "BMP image",
    "tiff": "TIFF image",
    "webm": "WebM/Matroska video",
    "avi": "AVI video",
    "3gp": "3GP video",
    "m4a": "M4A audio",
    "ogg": "Ogg audio",
    "flac": "FLAC audio",
    "pdf": "PDF document",
}
SNIFF_BYTES: Final = 64  # enough for every signature below, including an ftyp box's first brands


@dataclass(frozen=True)
class MediaInfo:
    kind: MediaKind
    format: str  # from the content, never the file name: one of KIND's keys
    mime: str
    size_bytes: int
    width: int | None  # as displayed: rotation metadata already applied
    height: int | None
    duration: float | None  # seconds (video, audio)
    fps: float | None
    has_audio: bool | None

    @property
    def pixels(self) -> int | None:
        return self.width * self.height if self.width is not None and self.height is not None else None


# --- sniffing -------------------------------------------------------------------------------------

_FTYP_BRANDS: Final[dict[bytes, str]] = {
    b"qt  ": "mov",
    b"avif": "avif",
    b"avis": "avif",
    b"heic": "heic",
    b"heix": "heic",
    b"heim": "heic",
    b"heis": "heic",
    b"hevc": "heic",
    b"hevx": "heic",
    b"M4A ": "m4a",
    b"M4B ": "m4a",
}
# A QuickTime file from before ftyp existed starts straight with one of these atoms.
_OLD_QUICKTIME_ATOMS: Final = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff_kind(head: bytes) -> str | None:
    """The format named by a file's first bytes (`SNIFF_BYTES` is enough), or None if unknown.

    Returns one of `KIND`'s keys for formats we accept, or one of `UNSUPPORTED`'s keys for a few
    formats we recognise only in order to name them in a refusal.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}.get(head[8:12])
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _sniff_ftyp(head)
    if head[4:8] in _OLD_QUICKTIME_ATOMS:
        return "mov"
    if head.startswith(b"ID3") or _is_mp3_frame(head):
        return "mp3"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\0\0\0\0":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def _sniff_ftyp(head: bytes) -> str:
    major = head[8:12]
    if major in _FTYP_BRANDS:
        return _FTYP_BRANDS[major]
    if major[:3] in (b"3gp", b"3g2"):
        return "3gp"
    box_size = int.from_bytes(head[0:4], "big")
    compatible = head[16 : min(box_size, len(head))]
    brands = {compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4)}
    if major in (b"mif1", b"msf1"):  # still-image containers: the compatible brands say which codec
        return "avif" if brands & {b"avif", b"avis"} else "heic"
    return "mp4"


def _is_mp3_frame(head: bytes) -> bool:
    """An MPEG audio frame header of layer III (ADTS AAC and MP2 share the sync word, not the layer)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    return version != 0b01 and layer == 0b01 and bitrate not in (0, 15) and sample_rate != 0b11


# --- probing --------------------------------------------------------------------------------------


def probe(path: Path) -> MediaInfo:
    """What the file at `path` really is, read from its headers; images are decoded. Raises `MediaError`."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            return probe_stream(handle, size, decode_images=True)
    except OSError as exc:
        raise MediaError(f"cannot read the file ({exc.strerror or exc})") from None


def probe_stream(handle: BinaryIO, size: int, *, decode_images: bool) -> MediaInfo:
    """What the seekable `handle` of `size` bytes holds. Video and audio are read through their
    container's index only; an image is decoded when `decode_images` (else only its header is read,
    for remote files where decoding would mean downloading all of it). Raises `MediaError`."""
    if size == 0:
        raise MediaError("the file is empty")
    handle.seek(0)
    fmt = sniff_kind(handle.read(SNIFF_BYTES))
    if fmt is None:
        raise MediaError("the content is not an image, video or audio format we can read")
    if fmt in UNSUPPORTED:
        raise MediaError(f"the file is a {UNSUPPORTED[fmt]}, which is not supported")
    handle.seek(0)
    if fmt == "webp" and not decode_images:  # Pillow would read the whole file just to open it
        return _webp_header(handle, size)
    if KIND[fmt] == "image":
        return _probe_image(handle, fmt, size, decode=decode_images)
    rotation = 0
    if fmt in ("mp4", "mov"):
        rotation = _check_iso_boxes(handle, size)
    elif fmt == "wav":
        _check_riff(handle, size)
    handle.seek(0)
    return _probe_av(handle, fmt, size, rotation)


_PIL_FORMAT: Final = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}
_EXIF_ORIENTATION: Final = 0x0112
_JPEG_DRAFT_SCALE: Final = 8  # JPEG decodes at 1/8 scale: every byte is still read, at 1/64 of the memory


def _probe_image(handle: BinaryIO, fmt: str, size: int, *, decode: bool) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    try:
        # (Pillow may warn about a huge picture; `catch_warnings` is not thread-safe, and probes run in
        # worker threads, so the warning is left alone.)
        with Image.open(handle) as image:
            width, height = image.size
            pil_format = image.format or ""
            orientation = 1
            # Only when EXIF came with the header: asking a PNG for it later would decode the pixels.
            if "exif" in image.info:
                orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1) or 1)
            if decode:
                _decode(image, pil_format)
    except Image.DecompressionBombError:
        raise MediaError("the image has far too many pixels to be a usable input") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(f"the image is damaged or truncated ({exc})") from None
    if _PIL_FORMAT.get(pil_format) != fmt:
        raise MediaError(f"the content starts like {fmt.upper()} but does not decode as one")
    if orientation in (5, 6, 7, 8):  # EXIF orientations that turn the picture a quarter
        width, height = height, width
    return MediaInfo("image", fmt, MIME[fmt], size, width, height, None, None, None)


def _webp_header(handle: BinaryIO, size: int) -> MediaInfo:
    """A WebP's picture size from its first chunk, and its RIFF size against the file's (a cut-off copy)."""
    head = handle.read(30)
    declared = int.from_bytes(head[4:8], "little") + 8
    if declared > size:
        raise MediaError(
            f"the file is truncated: its RIFF header declares {declared:,} bytes but there are {size:,}"
        )
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    elif chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X":
        width, height = int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    else:
        raise MediaError("the WebP header is damaged (no VP8, VP8L or VP8X chunk first)")
    return MediaInfo("image", "webp", MIME["webp"], size, width, height, None, None, None)


def _decode(image: Image, pil_format: str) -> None:
    """Read the whole picture, so that a truncated or corrupt file is refused, not only a bad header."""
    if pil_format == "PNG":
        image.verify()  # every chunk and its checksum, without holding the pixels
        return
    if pil_format == "JPEG":
        width, height = image.size
        image.draft("RGB", (max(1, width // _JPEG_DRAFT_SCALE), max(1, height // _JPEG_DRAFT_SCALE)))
    image.load()


# Stream parameters come from the headers and the index; FFmpeg's default analysis would read up to 5 s
# (5 MB) of packets, which over a URL means downloading most of a short clip.
_INDEX_ONLY: Final = {"probesize": "65536", "analyzeduration": "200000"}


def _probe_av(handle: BinaryIO, fmt: str, size: int, rotation: int) -> MediaInfo:
    import av

    try:
        with av.open(handle, metadata_errors="ignore", options=_INDEX_ONLY) as container:
            if fmt == "mp3" and container.format.name != "mp3":  # an ID3 tag in front of something else
                raise MediaError(f"the file has an ID3 tag but holds {container.format.name}, not MP3")
            video = container.streams.video[0] if container.streams.video else None
            has_audio = bool(container.streams.audio)
            duration = _container_seconds(container)
            if video is None:
                if KIND[fmt] == "video":
                    raise MediaError("the file has no video track")
                if not has_audio:
                    raise MediaError("the file has no audio track")
                return MediaInfo("audio", fmt, MIME[fmt], size, None, None, duration, None, True)
            width, height = video.codec_context.width, video.codec_context.height
            if not width or not height:
                raise MediaError("the video track has no picture size")
            if rotation % 180:
                width, height = height, width
            rate = video.average_rate or video.guessed_rate
            fps = float(rate) if rate else None
            if duration is None and video.duration is not None and video.time_base is not None:
                duration = float(video.duration * video.time_base)
            return MediaInfo("video", fmt, MIME[fmt], size, width, height, duration, fps, has_audio)
    except av.FFmpegError as exc:
        raise MediaError(f"the file is damaged or truncated ({ffmpeg_reason(exc)})") from None


def _container_seconds(container: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE
    return None


def ffmpeg_reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or str(exc)
    return str(reason).split(":")[0].strip() or type(exc).__name__


def _read_exact(handle: BinaryIO, count: int) -> bytes:
    data = handle.read(count)
    if len(data) < count:
        raise MediaError("the file is truncated (a box header runs past the end)")
    return data


def _iter_boxes(handle: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body offset, body end) for each ISO BMFF box between `start` and `end`."""
    offset = start
    while offset + 8 <= end:
        handle.seek(offset)
        size, kind = struct.unpack(">I4s", _read_exact(handle, 8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", _read_exact(handle, 8))[0]
            header = 16
        elif size == 0:  # "extends to the end of the file"
            size = end - offset
        if size < header:
            raise MediaError(f"the file is damaged (a {kind!r} box has an impossible size)")
        if offset + size > end:
            raise MediaError(
                f"the file is truncated: its {kind.decode('latin-1')!r} box needs {offset + size:,} bytes "
                f"but there are {end:,}"
            )
        yield kind, offset + header, offset + size
        offset += size


def _check_iso_boxes(handle: BinaryIO, size: int) -> int:
    """Check that no top-level box runs past the end (a cut-off download); return the video rotation."""
    rotation = 0
    for kind, body, body_end in list(_iter_boxes(handle, 0, size)):
        if kind == b"moov":
            rotation = _video_rotation(handle, body, body_end)
    return rotation


def _video_rotation(handle: BinaryIO, start: int, end: int) -> int:
    """Degrees (0, 90, 180, 270) the first video track's tkhd matrix turns the picture."""
    for kind, body, body_end in _iter_boxes(handle, start, end):
        if kind != b"trak":
            continue
        matrix: tuple[int, ...] | None = None
        handler = b""
        for child, child_body, child_end in _iter_boxes(handle, body, body_end):
            if child == b"tkhd":
                handle.seek(child_body)
                version = _read_exact(handle, 1)[0]
                # version, flags, times, track id, reserved, duration, reserved, layer, group, volume
                skip = 3 + (8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4) + 8 + 2 + 2 + 2 + 2
                handle.seek(child_body + 1 + skip)
                matrix = struct.unpack(">9i", _read_exact(handle, 36))
            elif child == b"mdia":
                for grandchild, g_body, _ in _iter_boxes(handle, child_body, child_end):
                    if grandchild == b"hdlr":
                        handle.seek(g_body + 8)  # version+flags, pre_defined
                        handler = _read_exact(handle, 4)
        if handler == b"vide" and matrix is not None:
            a, b = matrix[0], matrix[1]
            return round(math.degrees(math.atan2(b, a))) % 360
    return 0


def _check_riff(handle: BinaryIO, size: int) -> None:
    handle.seek(0)
    head = handle.read(12)
    declared = int.from_bytes(head[4:8], "little") + 8
    # 0xFFFFFFFF is what streaming writers put when they never come back to fill the size in.
    if declared > size and int.from_bytes(head[4:8], "little") != 0xFFFFFFFF:
        raise MediaError(
            f"the file is truncated: its RIFF header declares {declared:,} bytes but there are {size:,}"
        )


__all__ = [
    "KIND",
    "MIME",
    "UNSUPPORTED",
    "MediaError",
    "MediaInfo",
    "MediaKind",
    "ffmpeg_reason",
    "probe",
    "probe_stream",
    "sniff_kind",
]
