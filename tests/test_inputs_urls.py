"""URL inputs get the limits of local files: served by a real HTTP server on loopback, read by ranges.

Bad URLs are a table (field, what the message must say, arguments): a new case is one line. The
server records every request and every byte it sent, so tests also show that only headers and
indexes are read, never whole files.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seedance_mcp.server.errors import InputError
from seedance_mcp.server.inputs import check_frames, check_references
from seedance_mcp.server.media.remote import UrlPolicy
from tests.media_factory import make_audio, make_image, make_text, make_video, truncate
from tests.media_server import Served, serve

pytestmark = pytest.mark.anyio
LOCAL = UrlPolicy(allow_loopback=True)  # the provider is on loopback, as the simulator is
REMOTE = UrlPolicy(allow_loopback=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    make_image(root / "photo.png", "png", 400, 300, noise=True)
    make_image(root / "photo.jpg", "jpeg", 400, 300, noise=True)
    make_image(root / "photo.webp", "webp", 400, 300)
    make_image(root / "old.bmp", "bmp")
    make_image(root / "huge.jpg", "jpeg", pad_to=31_000_000)
    truncate(root / "photo.png", root / "cut.png", 0.4)
    truncate(root / "photo.jpg", root / "cut.jpg", 0.4)
    make_text(root / "page.png", "<!DOCTYPE html><html><body>Sign in to see this image</body></html>\n")
    make_video(root / "clip.mp4", 640, 640, 3.0, fps=8, audio=True)
    make_video(root / "clip.mov", 834, 1112, 2.0, container="mov")
    make_video(root / "long.mp4", 640, 640, 20.0, fps=4)
    make_video(root / "fullhd.mp4", 1920, 1080, 2.0, fps=4)
    make_video(root / "heavy.mp4", 640, 640, 2.0, fps=4, pad_to=26_000_000)
    make_video(root / "noext", 640, 640, 2.0, fps=4)
    make_audio(root / "voice.mp3", "mp3", 4.0)
    make_audio(root / "voice.wav", "wav", 3.0)
    make_audio(root / "long.wav", "wav", 16.0)
    return root


@pytest.fixture(scope="module")
def served(folder: Path) -> Iterator[Served]:
    with serve(folder) as server:
        yield server


def goto(target: str) -> str:
    return "goto/" + urllib.parse.quote(target, safe="")


@dataclass
class BadUrl:
    id: str
    field: str
    says: str  # a fragment of the limit or the reason
    images: tuple[str, ...] = ()
    videos: tuple[str, ...] = ()
    audios: tuple[str, ...] = ()
    policy: UrlPolicy = LOCAL


def url(served: Served, name: str) -> str:
    return name if "://" in name else f"{served.url}/{name}"


# Each name is a path on the test server (or a whole URL); "photo.png" is a good image to go with others.
BAD_URLS = [
    BadUrl("20 s video", "video_urls", "15 s", videos=("long.mp4",)),
    BadUrl("HTML named .png", "image_urls[0]", "web page (HTML)", images=("page.png",)),
    BadUrl("text/html content type", "image_urls[0]", "web page (HTML)", images=("html/photo.png",)),
    BadUrl("404", "image_urls[0]", "404 Not Found", images=("missing.png",)),
    BadUrl("video served as an image", "image_urls[0]", "takes images", images=("noext",)),
    BadUrl("image as a video", "video_urls[0]", "takes videos", images=("photo.png",), videos=("photo.jpg",)),
    BadUrl("BMP image", "image_urls[0]", "BMP image", images=("old.bmp",)),
    BadUrl("31 MB image", "image_urls[0]", "at most 30 MB", images=("huge.jpg",)),
    BadUrl("truncated PNG", "image_urls[0]", "truncated", images=("cut.png",)),
    BadUrl("truncated JPEG", "image_urls[1]", "truncated", images=("photo.png", "cut.jpg")),
    BadUrl("1080p video", "video_urls[0]", "pixels", videos=("fullhd.mp4",)),
    BadUrl("16 s of audio", "audio_urls", "at most 15 s", images=("photo.png",), audios=("long.wav",)),
    BadUrl("videos over 50 MB", "video_urls", "under 50 MB", videos=("heavy.mp4", "redirect/heavy.mp4")),
    BadUrl("loopback, remote provider", "image_urls[0]", "machine", images=("photo.png",), policy=REMOTE),
    BadUrl("redirect to link-local", "image_urls[0]", "private or local network", images=(goto("https://169.254.169.254/x.png"),)),
    BadUrl("redirect to private", "video_urls[0]", "private or local network", videos=(goto("https://10.0.0.7/c.mp4"),)),
    BadUrl("redirect with user:pass", "image_urls[0]", "user:pass", images=(goto("https://u:p@example.com/a.png"),)),
    BadUrl("redirect to ftp", "image_urls[0]", "only http(s)", images=(goto("ftp://example.com/a.png"),)),
    BadUrl("user:pass in the URL", "image_urls[0]", "signed URL without user:pass", images=("https://me:secret@cdn.example.com/a.png",)),
    BadUrl("private host literal", "image_urls[0]", "private or local network", images=("https://192.168.1.20/a.png",)),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_URLS, ids=[c.id for c in BAD_URLS])
async def test_bad_url_is_refused_naming_the_field(case: BadUrl, served: Served) -> None:
    def resolve(names: tuple[str, ...]) -> list[str]:
        return [url(served, n) for n in names]

    with pytest.raises(InputError) as info:
        await check_references(
            "a scene",
            resolve(case.images),
            resolve(case.videos),
            resolve(case.audios),
            allowed_dirs=(),
            urls=case.policy,
        )
    assert info.value.field == case.field, str(info.value)
    assert case.says in str(info.value), str(info.value)
    assert "secret" not in str(info.value)  # a password in a URL is never echoed


async def test_twelve_urls_pass_with_probed_durations(served: Served, folder: Path) -> None:
    images = [url(served, n) for n in ("photo.png", "photo.jpg", "photo.webp")] * 2
    videos = [url(served, n) for n in ("clip.mp4", "clip.mov", "noext")]
    audios = [url(served, n) for n in ("voice.mp3", "voice.wav", "redirect/voice.wav")]
    checked = await check_references("@Image1 @Video1", images, videos, audios, allowed_dirs=(), urls=LOCAL)
    assert [i.source for i in checked.inputs] == ["url"] * 12
    assert all(i.info is not None for i in checked.inputs)
    assert checked.input_video_seconds == pytest.approx(3.0 + 2.0 + 2.0, abs=0.2)  # priced from these
    assert not [w for w in checked.warnings if "could not be fully checked" in w]
    assert [i.value for i in checked.inputs] == [*images, *videos, *audios]  # submitted as given


async def test_only_headers_and_indexes_are_read(served: Served, folder: Path) -> None:
    before = served.bytes_sent
    checked = await check_references(
        "@Video1", [], [url(served, "heavy.mp4")], [], allowed_dirs=(), urls=LOCAL
    )
    assert checked.inputs[0].info is not None and checked.inputs[0].info.size_bytes == 26_000_000
    assert served.bytes_sent - before < 1_000_000  # of a 26 MB file


async def test_a_server_without_ranges_passes_with_a_warning(served: Served) -> None:
    checked = await check_references(
        "@Video1", [], [url(served, "noranges/heavy.mp4")], [], allowed_dirs=(), urls=LOCAL
    )
    assert checked.input_video_seconds is None  # unknown: priced as the 2-15 s range
    (warning,) = [w for w in checked.warnings if "could not be fully checked" in w]
    assert "video_urls[0]" in warning and "ranged requests" in warning


async def test_a_slow_server_passes_with_a_warning_in_bounded_time(served: Served) -> None:
    import time

    started = time.monotonic()
    checked = await check_frames(
        "x", url(served, "slow/photo.png"), None, allowed_dirs=(), urls=UrlPolicy(True, seconds=0.5)
    )
    assert time.monotonic() - started < 5  # the slow server holds its answer for 30 s
    (warning,) = checked.warnings
    assert "image_url" in warning and "in time" in warning


async def test_frames_by_url_are_checked_too(served: Served) -> None:
    with pytest.raises(InputError, match="web page"):
        await check_frames(
            "x", url(served, "photo.png"), url(served, "page.png"), allowed_dirs=(), urls=LOCAL
        )
    checked = await check_frames("x", url(served, "photo.webp"), None, allowed_dirs=(), urls=LOCAL)
    assert checked.inputs[0].info is not None and checked.inputs[0].info.width == 400
