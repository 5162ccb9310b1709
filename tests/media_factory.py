"""Test media made on the fly: nothing binary is committed.

Every maker writes into the path it is given and returns it. Frame colours encode time (the red
channel goes from 0 at the start to 255 at the end) so preview tests can tell which moment a frame
came from. `pad_to` grows a file to an exact size while keeping it valid (an ISO `free` box, a RIFF
`JUNK` chunk, or bytes after an image's end), written sparsely so a 60 MB file costs nothing.
"""

from __future__ import annotations

import struct
import wave
from fractions import Fraction
from pathlib import Path
from typing import Literal

ImageFormat = Literal["jpeg", "png", "webp", "gif", "avif", "bmp", "tiff"]
_PIL_NAME = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "avif": "AVIF",
    "bmp": "BMP",
    "tiff": "TIFF",
}


def make_image(
    path: Path,
    fmt: ImageFormat = "jpeg",
    width: int = 64,
    height: int = 48,
    *,
    pad_to: int | None = None,
    exif_orientation: int | None = None,
    noise: bool = False,
) -> Path:
    from PIL import Image

    if noise:  # detail throughout, as in a photo, so a cut file is missing real picture data
        image = Image.effect_noise((width, height), 80).convert("RGB")
    else:
        image = Image.new("RGB", (width, height), (200, 80, 40))
    kwargs: dict[str, object] = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(path, format=_PIL_NAME[fmt], **kwargs)
    if pad_to is not None:
        _extend(path, pad_to)  # bytes after the image's end marker: decoders stop before them
    return path


def make_video(
    path: Path,
    width: int = 640,
    height: int = 640,
    seconds: float = 2.0,
    *,
    fps: int = 4,
    audio: bool = False,
    container: Literal["mp4", "mov"] = "mp4",
    rotation: int = 0,
    pad_to: int | None = None,
) -> Path:
    """An H.264 clip (AAC audio optional); `rotation` is stored as display-matrix metadata."""
    import av
    from PIL import Image

    frames = max(1, round(seconds * fps))
    with av.open(str(path), "w", format=container) as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(fps)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=48000, layout="mono")
        for i in range(frames):
            shade = round(255 * i / max(1, frames - 1))
            frame = av.VideoFrame.from_image(Image.new("RGB", (width, height), (shade, 90, 160)))
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            _encode_tone(out, sound, seconds, 48000, "fltp", 1024)
    if pad_to is not None:
        _pad_iso(path, pad_to)
    return path


def make_audio(
    path: Path,
    fmt: Literal["wav", "mp3"] = "wav",
    seconds: float = 1.0,
    *,
    sample_rate: int = 16000,
    pad_to: int | None = None,
) -> Path:
    if fmt == "wav":
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(b"\0\0" * round(seconds * sample_rate))
        if pad_to is not None:
            _pad_riff(path, pad_to)
        return path
    import av

    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=sample_rate, layout="mono")
        _encode_tone(out, stream, seconds, sample_rate, "s16p", 1152)
    if pad_to is not None:
        _extend(path, pad_to)
    return path


def make_text(path: Path, text: str = "hello, this is not a picture\n") -> Path:
    path.write_text(text)
    return path


def make_bytes(path: Path, size: int, head: bytes = b"") -> Path:
    """`head` followed by zeros up to `size` bytes (sparse)."""
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)
    return path


def truncate(source: Path, target: Path, keep: float = 0.5) -> Path:
    """A copy of `source` cut off after the first `keep` fraction of its bytes."""
    data = source.read_bytes()
    target.write_bytes(data[: max(1, int(len(data) * keep))])
    return target


def _encode_tone(out: object, stream: object, seconds: float, rate: int, fmt: str, chunk: int) -> None:
    import av

    sample_bytes = 4 if fmt == "fltp" else 2
    total = round(seconds * rate)
    pts = 0
    while pts < total:
        n = min(chunk, total - pts)
        frame = av.AudioFrame(format=fmt, layout="mono", samples=n)
        frame.planes[0].update(
            bytes(n * sample_bytes) + bytes(frame.planes[0].buffer_size - n * sample_bytes)
        )
        frame.sample_rate = rate
        frame.pts = pts
        for packet in stream.encode(frame):  # type: ignore[attr-defined]
            out.mux(packet)  # type: ignore[attr-defined]
        pts += n
    for packet in stream.encode(None):  # type: ignore[attr-defined]
        out.mux(packet)  # type: ignore[attr-defined]


def _extend(path: Path, size: int) -> None:
    current = path.stat().st_size
    if size < current:
        raise ValueError(f"{path.name} is already {current} bytes")
    with path.open("r+b") as out:
        out.truncate(size)


def _pad_iso(path: Path, size: int) -> None:
    """Append a top-level `free` box so the MP4/MOV stays valid at exactly `size` bytes."""
    current = path.stat().st_size
    extra = size - current
    if extra < 16:
        raise ValueError("pad_to must add at least 16 bytes")
    with path.open("r+b") as out:
        out.seek(current)
        out.write(struct.pack(">I4sQ", 1, b"free", extra))  # 64-bit size: pads past 4 GB would work too
        out.truncate(size)


def _pad_riff(path: Path, size: int) -> None:
    """Append a `JUNK` chunk and fix the RIFF size, so the WAV stays valid at exactly `size` bytes."""
    current = path.stat().st_size
    extra = size - current
    if extra < 8 or extra % 2:
        raise ValueError("pad_to must add an even number of bytes, at least 8")
    with path.open("r+b") as out:
        out.seek(current)
        out.write(struct.pack("<4sI", b"JUNK", extra - 8))
        out.truncate(size)
        out.seek(4)
        out.write(struct.pack("<I", size - 8))
