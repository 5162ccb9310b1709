"""server/media/probe.py: sniffing, probing (content beats name), rotation, previews, damaged files."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from seedance_mcp.server.delivery.previews import render_preview
from seedance_mcp.server.media.probe import MediaError, probe, sniff_kind
from tests.media_factory import (
    ImageFormat,
    make_audio,
    make_bytes,
    make_image,
    make_text,
    make_video,
    truncate,
)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("jpeg", "image/jpeg"),
        ("png", "image/png"),
        ("webp", "image/webp"),
        ("gif", "image/gif"),
        ("avif", "image/avif"),
    ],
)
def test_probe_images_by_content_not_name(tmp_path: Path, fmt: str, mime: str) -> None:
    # Every image is saved under a misleading name: the content decides.
    path = make_image(tmp_path / "picture.mp3", fmt, 120, 90)
    info = probe(path)
    assert (info.kind, info.format, info.mime) == ("image", fmt, mime)
    assert (info.width, info.height) == (120, 90)
    assert info.size_bytes == path.stat().st_size
    assert info.duration is None and info.has_audio is None


@pytest.mark.parametrize("container", ["mp4", "mov"])
def test_probe_video_containers(tmp_path: Path, container: str) -> None:
    path = make_video(tmp_path / "clip.bin", 640, 480, 2.5, fps=8, container=container, audio=True)  # type: ignore[arg-type]
    info = probe(path)
    assert (info.kind, info.format) == ("video", container)
    assert info.mime == {"mp4": "video/mp4", "mov": "video/quicktime"}[container]
    assert (info.width, info.height) == (640, 480)
    assert info.duration == pytest.approx(2.5, abs=0.1)
    assert info.fps == pytest.approx(8)
    assert info.has_audio is True


def test_probe_video_without_audio(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "silent.mp4", 320, 240, 1.0))
    assert info.has_audio is False


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_probe_audio(tmp_path: Path, fmt: str) -> None:
    info = probe(make_audio(tmp_path / "sound.png", fmt, 3.0))  # type: ignore[arg-type]
    assert (info.kind, info.format) == ("audio", fmt)
    assert info.mime == {"wav": "audio/wav", "mp3": "audio/mpeg"}[fmt]
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.width is None and info.has_audio is True


@pytest.mark.parametrize("rotation", [90, -90, 270])
def test_rotated_phone_video_reports_displayed_size(tmp_path: Path, rotation: int) -> None:
    # Stored 1920x1080 with a display matrix, as phones record portrait video.
    info = probe(make_video(tmp_path / "phone.mp4", 1920, 1080, 1.0, rotation=rotation))
    assert (info.width, info.height) == (1080, 1920)


def test_upside_down_video_keeps_its_size(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "flipped.mp4", 640, 480, 1.0, rotation=180))
    assert (info.width, info.height) == (640, 480)


def test_exif_orientation_turns_image_size(tmp_path: Path) -> None:
    info = probe(make_image(tmp_path / "portrait.jpg", "jpeg", 400, 300, exif_orientation=6))
    assert (info.width, info.height) == (300, 400)


def test_padded_files_stay_valid(tmp_path: Path) -> None:
    video = probe(make_video(tmp_path / "big.mp4", 640, 640, 2.0, pad_to=3_000_000))
    audio = probe(make_audio(tmp_path / "big.wav", "wav", 1.0, pad_to=2_000_000))
    image = probe(make_image(tmp_path / "big.jpg", "jpeg", pad_to=1_000_000))
    assert (video.size_bytes, video.duration) == (3_000_000, pytest.approx(2.0, abs=0.1))
    assert (audio.size_bytes, audio.duration) == (2_000_000, pytest.approx(1.0, abs=0.05))
    assert image.size_bytes == 1_000_000


@pytest.mark.parametrize("keep", [0.2, 0.6, 0.95])
def test_truncated_mp4_raises(tmp_path: Path, keep: float) -> None:
    whole = make_video(tmp_path / "whole.mp4", 640, 640, 2.0)
    with pytest.raises(MediaError, match="truncated"):
        probe(truncate(whole, tmp_path / "cut.mp4", keep))


def test_truncated_mov_with_index_at_end_raises(tmp_path: Path) -> None:
    whole = make_video(tmp_path / "whole.mov", 640, 640, 2.0, container="mov")
    with pytest.raises(MediaError):
        probe(truncate(whole, tmp_path / "cut.mov", 0.5))


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "gif"])
def test_truncated_image_is_decoded_and_refused(tmp_path: Path, fmt: ImageFormat) -> None:
    whole = make_image(tmp_path / f"whole.{fmt}", fmt, 256, 192, noise=True)
    assert probe(whole).width == 256  # the whole file decodes
    with pytest.raises(MediaError, match="damaged or truncated"):
        probe(truncate(whole, tmp_path / f"cut.{fmt}", 0.4))


def test_truncated_wav_raises(tmp_path: Path) -> None:
    whole = make_audio(tmp_path / "whole.wav", "wav", 2.0)
    with pytest.raises(MediaError, match="truncated"):
        probe(truncate(whole, tmp_path / "cut.wav", 0.5))


def test_unknown_and_unsupported_content_raise(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not an image, video or audio"):
        probe(make_text(tmp_path / "notes.png"))
    with pytest.raises(MediaError, match="empty"):
        probe(make_bytes(tmp_path / "empty.jpg", 0))
    with pytest.raises(MediaError, match="BMP"):
        probe(make_image(tmp_path / "old.bmp", "bmp"))
    with pytest.raises(MediaError, match="cannot read"):
        probe(tmp_path / "missing.mp4")


def test_jpeg_header_without_an_image_raises(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="damaged or truncated"):
        probe(make_bytes(tmp_path / "fake.jpg", 200, head=b"\xff\xd8\xff\xe0"))


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xdb" + bytes(60), "jpeg"),
        (b"\x89PNG\r\n\x1a\n" + bytes(56), "png"),
        (b"GIF89a" + bytes(58), "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2mp41", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mov"),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "mov"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "avif"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", "avif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom", "m4a"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x64" + bytes(8), "mp3"),  # MPEG-1 layer III frame
        (b"\xff\xf1\x50\x80" + bytes(8), None),  # ADTS AAC shares the sync word, not the layer
        (b"\x1a\x45\xdf\xa3" + bytes(8), "webm"),
        (b"%PDF-1.7\n", "pdf"),
        (b"hello world", None),
        (b"", None),
    ],
)
def test_sniff_kind(head: bytes, expected: str | None) -> None:
    assert sniff_kind(head) == expected


def test_importing_media_stays_cheap() -> None:
    # The server imports this module at start-up; PyAV and Pillow must wait until first use.
    code = (
        "import sys, seedance_mcp.server.media.probe; "
        "print(sorted(m for m in ('av', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()
    return image


def test_preview_poster_and_contact_sheet(tmp_path: Path) -> None:
    video = make_video(tmp_path / "out.mp4", 1280, 720, 6.0, fps=8, audio=True)
    preview = render_preview(video)
    poster = _jpeg(preview.poster_jpeg)
    sheet = _jpeg(preview.contact_sheet_jpeg)
    assert poster.size == (640, 360)
    # Six 320x180 thumbnails in a 3x2 grid with 4 px gaps.
    assert sheet.size == (3 * 320 + 2 * 4, 2 * 180 + 4)
    assert len(preview.contact_sheet_jpeg) < 100_000
    assert (preview.width, preview.height, preview.has_audio) == (1280, 720, True)
    assert preview.duration == pytest.approx(6.0, abs=0.1)
    assert preview.fps == pytest.approx(8)
    assert preview.size_bytes == video.stat().st_size
    # Red encodes time: the poster sits about a third in, the sheet runs left to right, top to bottom.
    red = poster.getpixel((320, 180))
    assert isinstance(red, tuple)
    assert 60 <= red[0] <= 110
    cells = [sheet.getpixel((x * 324 + 160, y * 184 + 90)) for y in range(2) for x in range(3)]
    reds = [c[0] for c in cells if isinstance(c, tuple)]
    assert reds == sorted(reds) and reds[-1] - reds[0] > 150


def test_preview_of_short_small_video_uses_four_frames_and_no_upscaling(tmp_path: Path) -> None:
    preview = render_preview(make_video(tmp_path / "short.mp4", 320, 240, 2.0, fps=8))
    assert _jpeg(preview.poster_jpeg).size == (320, 240)
    assert _jpeg(preview.contact_sheet_jpeg).size == (2 * 320 + 4, 2 * 240 + 4)
    assert preview.has_audio is False


def test_preview_applies_rotation(tmp_path: Path) -> None:
    preview = render_preview(make_video(tmp_path / "phone.mp4", 640, 360, 2.0, rotation=90))
    assert (preview.width, preview.height) == (360, 640)
    assert _jpeg(preview.poster_jpeg).size == (360, 640)


def test_preview_of_long_video_seeks(tmp_path: Path) -> None:
    # Longer than the one-pass limit: frames are found by seeking, still in time order.
    preview = render_preview(make_video(tmp_path / "long.mp4", 64, 64, 130.0, fps=1))
    sheet = _jpeg(preview.contact_sheet_jpeg)
    cells = [sheet.getpixel((x * 68 + 32, y * 68 + 32)) for y in range(2) for x in range(3)]
    reds = [c[0] for c in cells if isinstance(c, tuple)]
    assert reds == sorted(reds) and reds[-1] - reds[0] > 150


def test_preview_of_broken_or_non_video_raises(tmp_path: Path) -> None:
    whole = make_video(tmp_path / "whole.mp4", 640, 640, 2.0)
    with pytest.raises(MediaError):
        render_preview(truncate(whole, tmp_path / "cut.mp4", 0.5))
    with pytest.raises(MediaError, match="needs a video"):
        render_preview(make_audio(tmp_path / "a.wav"))
