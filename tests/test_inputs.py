"""tools.inputs: every documented limit is enforced before anything is uploaded.

Bad inputs are a parametrised corpus: each names the field, a fragment of the limit and a fragment
of the fix the error must contain. Uploads go to the simulator's fal storage over loopback; the
simulator's request log proves that a refused request uploaded nothing.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedance_mcp.server.errors import InputError
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.inputs import (
    CheckedInputs,
    check_frames,
    check_references,
    release,
    upload_inputs,
)
from seedance_mcp.server.inputs.prompt_references import references as prompt_references
from seedance_mcp.server.providers.fal import FalProvider
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.media_factory import make_audio, make_image, make_text, make_video, truncate

KEY = "inputs-test-key-7d1e"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- a library of media, made once --------------------------------------------------------------


@dataclass
class Lib:
    root: Path
    home: Path
    media: Path
    f: dict[str, str] = field(default_factory=dict)  # name -> path as a string

    def __getitem__(self, name: str) -> str:
        return self.f[name]

    @property
    def allowed(self) -> tuple[Path, ...]:
        return (self.home,)


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Lib:
    root = tmp_path_factory.mktemp("library")
    home = root / "home"
    media = home / "media"
    ssh = home / ".ssh"
    outside = root / "outside"
    for folder in (media, ssh, outside, media / "folder"):
        folder.mkdir(parents=True, exist_ok=True)
    lib = Lib(root, home, media)
    f = lib.f
    for i, fmt in enumerate(["jpeg", "png", "webp"] * 3, start=1):
        f[f"img{i}"] = str(make_image(media / f"img{i}.{fmt}", fmt, 80 + i, 60))  # type: ignore[arg-type]
    f["gif"] = str(make_image(media / "anim.gif", "gif"))
    f["avif"] = str(make_image(media / "photo.avif", "avif"))
    f["bmp"] = str(make_image(media / "old.bmp", "bmp"))
    f["big_jpg"] = str(make_image(media / "huge.jpg", "jpeg", pad_to=31_000_000))
    f["text_png"] = str(make_text(media / "notes.png", "PRIVATE NOTES: do not share\n"))
    f["v640"] = str(make_video(media / "square.mp4", 640, 640, 2.0))
    f["v720"] = str(make_video(media / "portrait.mov", 834, 1112, 3.0, container="mov", audio=True))
    f["v1080"] = str(make_video(media / "fullhd.mp4", 1920, 1080, 1.0))
    f["v300"] = str(make_video(media / "tiny.mp4", 300, 300, 2.0))
    f["v_short"] = str(make_video(media / "blink.mp4", 640, 640, 1.5, fps=2))
    f["v8a"] = str(make_video(media / "eight-a.mp4", 640, 640, 8.0, fps=2))
    f["v8b"] = str(make_video(media / "eight-b.mp4", 640, 640, 8.0, fps=2))
    f["v_huge"] = str(make_video(media / "heavy.mp4", 640, 640, 2.0, pad_to=51_000_000))
    f["v26a"] = str(make_video(media / "half-a.mp4", 640, 640, 2.0, pad_to=26_000_000))
    f["v26b"] = str(make_video(media / "half-b.mp4", 640, 640, 2.0, pad_to=26_000_000))
    f["v_cut"] = str(truncate(Path(f["v640"]), media / "cut.mp4", 0.5))
    f["wav2"] = str(make_audio(media / "two.wav", "wav", 2.0))
    f["mp3_5"] = str(make_audio(media / "five.mp3", "mp3", 5.0))
    f["mp3_16"] = str(make_audio(media / "sixteen.mp3", "mp3", 16.0))
    f["wav8a"] = str(make_audio(media / "eight-a.wav", "wav", 8.0))
    f["wav8b"] = str(make_audio(media / "eight-b.wav", "wav", 8.0))
    f["wav_big"] = str(make_audio(media / "heavy.wav", "wav", 1.0, pad_to=16_000_000))
    f["folder"] = str(media / "folder")
    f["missing"] = str(media / "nowhere.jpg")
    f["outside"] = str(make_image(outside / "elsewhere.jpg"))
    f["dotdot"] = str(media / ".." / ".." / "outside" / "elsewhere.jpg")
    f["hidden_file"] = str(make_image(media / ".secret.jpg"))
    (ssh / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecretsecret\n")
    make_image(ssh / "face.jpg")
    (media / "key.png").symlink_to(ssh / "id_ed25519")
    (media / "face.jpg").symlink_to(ssh / "face.jpg")
    (media / "escape.jpg").symlink_to(outside / "elsewhere.jpg")
    f["link_key"] = str(media / "key.png")
    f["link_face"] = str(media / "face.jpg")
    f["link_escape"] = str(media / "escape.jpg")
    os.link(f["outside"], media / "hardlink.jpg")  # the same file under a second name, inside
    f["hardlink"] = str(media / "hardlink.jpg")
    photo = make_image(root / "photo.png", "png", 256, 192, noise=True)
    f["cut_png"] = str(truncate(photo, media / "cut.png", 0.4))
    f["cut_jpg"] = str(
        truncate(make_image(root / "photo.jpg", "jpeg", 256, 192, noise=True), media / "cut.jpg", 0.4)
    )
    return lib


# --- the simulator's storage as the upload target -----------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.1, run_seconds=0.1, seed=1)) as simulator:
        yield simulator


class Uploads:
    """The provider's upload, counted: what a tool hands to `upload_inputs`."""

    def __init__(self, provider: FalProvider) -> None:
        self.provider = provider
        self.calls: list[tuple[Path, str]] = []

    async def __call__(self, path: Path, content_type: str) -> str:
        self.calls.append((path, content_type))
        return await self.provider.upload(path, content_type)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=tls_context(), timeout=10.0) as http:
        yield http


@pytest.fixture
def uploads(sim: Simulator, client: httpx.AsyncClient) -> Uploads:
    provider = FalProvider(client, key=KEY, queue_url=sim.url, rest_url=sim.url, cdn_url=sim.url)
    return Uploads(provider)


def storage_requests(sim: Simulator) -> int:
    return sum(1 for e in sim.request_log() if "upload" in str(e["path"]) or "storage" in str(e["path"]))


# --- the corpus of bad inputs --------------------------------------------------------------------


def data_uri(path: str, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode()


@dataclass
class Bad:
    id: str
    field: str
    limit: str  # the message must name the limit ...
    fix: str  # ... and what to do about it
    refs: Callable[[Lib], dict[str, Any]] | None = None
    frames: Callable[[Lib], dict[str, Any]] | None = None


def refs(
    images: list[str] | None = None,
    videos: list[str] | None = None,
    audios: list[str] | None = None,
    prompt: str = "a quiet scene",
) -> Callable[[Lib], dict[str, Any]]:
    def build(lib: Lib) -> dict[str, Any]:
        def resolve(values: list[str] | None) -> list[str]:
            return [lib.f.get(v, v) for v in values or []]

        return {
            "prompt": prompt,
            "image_urls": resolve(images),
            "video_urls": resolve(videos),
            "audio_urls": resolve(audios),
        }

    return build


def frames(
    start: str | None, end: str | None = None, prompt: str = "a slow push-in"
) -> Callable[[Lib], dict[str, Any]]:
    return lambda lib: {
        "prompt": prompt,
        "image_url": lib.f.get(start, start) if start else start,
        "end_image_url": lib.f.get(end, end) if end else end,
    }


URL = "https://cdn.example.com/files/"

BAD = [
    # counts: refused before anything is probed (the paths below do not even exist)
    Bad(
        "10 images",
        "image_urls",
        "limit is 9",
        "Remove 1 image",
        refs([f"/no/such/{i}.jpg" for i in range(10)]),
    ),
    Bad(
        "4 videos",
        "video_urls",
        "limit is 3",
        "Remove 1 video",
        refs(["img1"], [f"/no/v{i}.mp4" for i in range(4)]),
    ),
    Bad("4 audios", "audio_urls", "limit is 3", "Remove 1 audio", refs(["img1"], [], ["wav2"] * 4)),
    Bad(
        "13 files",
        "image_urls+video_urls+audio_urls",
        "Too many input files",
        "Remove 1 file",
        refs([f"/no/{i}.jpg" for i in range(9)], [f"/no/{i}.mp4" for i in range(3)], ["/no/a.wav"]),
    ),
    Bad(
        "audio only",
        "audio_urls",
        "Audio requires at least one image or video",
        "add a reference image",
        refs([], [], ["wav2"]),
    ),
    Bad("empty string", "image_urls[1]", "is empty", "https:// URL", refs(["img1", "  "])),
    # prompt references
    Bad(
        "@Image3 with two images",
        "prompt",
        "there are 2 images",
        "@Image1 to @Image2",
        refs(["img1", "img2"], prompt="@Image3 dances"),
    ),
    Bad(
        "[Video2] with one video",
        "prompt",
        "there is 1 video",
        "refer to @Video1",
        refs(["img1"], ["v640"], prompt="like [Video2]"),
    ),
    Bad(
        "@Audio1 with no audio",
        "prompt",
        "there are no audio clips",
        "add audio_urls",
        refs(["img1"], prompt="to @Audio1"),
    ),
    Bad("@Image0", "prompt", "numbered from 1", "@Image1", refs(["img1"], prompt="@Image0 waves")),
    # formats, by content
    Bad("text file named .png", "image_urls[0]", "JPEG, PNG or WebP", "must be", refs(["text_png"])),
    Bad("GIF as a reference image", "image_urls[0]", "JPEG, PNG or WebP", "start frame", refs(["gif"])),
    Bad("BMP as a reference image", "image_urls[0]", "BMP image", "Convert it", refs(["bmp"])),
    Bad("video in image_urls", "image_urls[0]", "takes images", "Pass it in video_urls", refs(["v640"])),
    Bad("image in video_urls", "video_urls[0]", "MP4 or MOV", "Pass it in image_urls", refs([], ["img1"])),
    Bad(
        "video in audio_urls",
        "audio_urls[0]",
        "MP3 or WAV",
        "Pass it in video_urls",
        refs(["img1"], [], ["v640"]),
    ),
    Bad(
        "truncated MP4",
        "video_urls[0]",
        "truncated",
        "Export or download the file again",
        refs([], ["v_cut"]),
    ),
    # sizes and shapes
    Bad("31 MB image", "image_urls[0]", "at most 30 MB", "Compress it", refs(["big_jpg"])),
    Bad("1920x1080 video", "video_urls[0]", "927,408", "Re-encode it at 720p", refs([], ["v1080"])),
    Bad("300x300 video", "video_urls[0]", "409,600", "at least 480p", refs([], ["v300"])),
    Bad("videos totalling 1.5 s", "video_urls", "between 2 and 15 s", "at least 2 s", refs([], ["v_short"])),
    Bad(
        "videos totalling 16 s",
        "video_urls",
        "between 2 and 15 s",
        "Trim them to 15 s",
        refs([], ["v8a", "v8b"]),
    ),
    Bad(
        "local 16 s beside a URL video",
        "video_urls",
        "between 2 and 15 s",
        "Trim",
        refs([], ["v8a", URL + "c.mp4", "v8b"]),
    ),
    Bad("a 51 MB video", "video_urls[0]", "under 50 MB", "lower bitrate", refs([], ["v_huge"])),
    Bad(
        "two videos over 50 MB together",
        "video_urls",
        "under 50 MB",
        "lower bitrate",
        refs([], ["v26a", "v26b"]),
    ),
    Bad("MP3 of 16 s", "audio_urls", "at most 15 s", "Trim", refs(["img1"], [], ["mp3_16"])),
    Bad("two WAVs of 8 s", "audio_urls", "at most 15 s", "Trim", refs(["img1"], [], ["wav8a", "wav8b"])),
    Bad(
        "WAV over 15 MB",
        "audio_urls[0]",
        "at most 15 MB",
        "Shorten or compress",
        refs(["img1"], [], ["wav_big"]),
    ),
    # where local files may come from
    Bad(
        "path outside allowed dirs",
        "image_urls[0]",
        "outside the folders",
        "SEEDANCE_ALLOWED_DIRS",
        refs(["outside"]),
    ),
    Bad("dot-dot escape", "image_urls[0]", "outside the folders", "SEEDANCE_ALLOWED_DIRS", refs(["dotdot"])),
    Bad("symlink escape", "image_urls[0]", "outside the folders", "move the file", refs(["link_escape"])),
    Bad(
        "symlink into ~/.ssh (key)",
        "image_urls[0]",
        "hidden files are never read",
        "visible folder",
        refs(["link_key"]),
    ),
    Bad("symlink into ~/.ssh (image)", "image_urls[0]", "(.ssh)", "visible folder", refs(["link_face"])),
    Bad("hidden file", "image_urls[0]", "(.secret.jpg)", "visible folder", refs(["hidden_file"])),
    Bad("missing file", "image_urls[0]", "no file at", "check the path", refs(["missing"])),
    Bad("directory", "image_urls[0]", "is a folder", "give the path of one image", refs(["folder"])),
    Bad("relative path", "image_urls[0]", "absolute path", "full path", refs(["pictures/cat.jpg"])),
    Bad(
        "file URL to another host",
        "image_urls[0]",
        "this machine",
        "local path",
        refs(["file://nas/share/cat.jpg"]),
    ),
    Bad(
        "file URL outside",
        "image_urls[0]",
        "outside the folders",
        "SEEDANCE_ALLOWED_DIRS",
        refs(["file:///etc/hostname"]),
    ),
    # URLs
    Bad(
        "ftp URL",
        "image_urls[0]",
        "'ftp' is not supported",
        "https:// URL",
        refs(["ftp://example.com/cat.jpg"]),
    ),
    Bad(
        "javascript URL",
        "image_urls[0]",
        "'javascript' is not supported",
        "data: URI",
        refs(["javascript:alert(1)"]),
    ),
    Bad(
        "s3 URL", "video_urls[0]", "'s3' is not supported", "https:// URL", refs([], ["s3://bucket/clip.mp4"])
    ),
    Bad(
        "http to a public host",
        "image_urls[0]",
        "only for this machine",
        "https://",
        refs(["http://example.com/cat.jpg"]),
    ),
    Bad(
        "URL ending .txt for an image",
        "image_urls[0]",
        "JPEG, PNG or WebP",
        "media file itself",
        refs([URL + "notes.txt"]),
    ),
    Bad(
        "URL ending .mp4 for an image",
        "image_urls[0]",
        "takes images",
        "Pass it in video_urls",
        refs([URL + "clip.mp4"]),
    ),
    Bad(
        "URL ending .gif for a reference",
        "image_urls[0]",
        "JPEG, PNG or WebP",
        "start frame",
        refs([URL + "a.GIF"]),
    ),
    Bad(
        "URL ending .webm for a video",
        "video_urls[0]",
        "MP4 or MOV",
        "Convert it",
        refs([], [URL + "clip.webm?x=1"]),
    ),
    # data URIs
    Bad(
        "data URI with wrong mime",
        "image_urls[0]",
        "says image/png",
        "make the mime type match",
        lambda lib: refs([data_uri(lib["img1"], "image/png")])(lib),
    ),
    Bad(
        "oversized data URI",
        "image_urls[0]",
        "at most 30 MB",
        "Compress it",
        refs(["data:image/jpeg;base64," + "A" * 41_400_000]),
    ),
    Bad(
        "data URI of text",
        "image_urls[0]",
        "'text/plain'",
        "data:image/jpeg;base64",
        refs(["data:text/plain;base64,aGVsbG8="]),
    ),
    Bad(
        "data URI not base64",
        "image_urls[0]",
        "not base64",
        "data:<mime>;base64",
        refs(["data:image/png,hello"]),
    ),
    Bad(
        "data URI broken base64",
        "image_urls[0]",
        "base64 content is invalid",
        "encode the file again",
        refs(["data:image/png;base64,@@@@"]),
    ),
    Bad(
        "data URI video for an image",
        "image_urls[0]",
        "takes images",
        "Pass it in video_urls",
        lambda lib: refs([data_uri(lib["v640"], "video/mp4")])(lib),
    ),
    Bad(
        "data URI truncated video",
        "video_urls[0]",
        "truncated",
        "again",
        lambda lib: refs([], [data_uri(lib["v_cut"], "video/mp4")])(lib),
    ),
    # start and end frames
    Bad("no start frame", "image_url", "needs a start frame", "pass image_url", frames=frames(None)),
    Bad(
        "text file as start frame",
        "image_url",
        "JPEG, PNG, WebP, GIF or AVIF",
        "must be",
        frames=frames("text_png"),
    ),
    Bad(
        "BMP end frame",
        "end_image_url",
        "BMP image",
        "Convert it to JPEG, PNG, WebP, GIF or AVIF",
        frames=frames("img1", "bmp"),
    ),
    Bad("31 MB start frame", "image_url", "at most 30 MB", "Compress it", frames=frames("big_jpg")),
    Bad(
        "ftp end frame",
        "end_image_url",
        "'ftp' is not supported",
        "https:// URL",
        frames=frames("img1", "ftp://h/a.png"),
    ),
    Bad("video as start frame", "image_url", "takes images", "start frames must be", frames=frames("v640")),
    # names and edge cases
    Bad("NUL in a path", "image_urls[0]", "NUL character", "without it", refs(["/home/me/a\x00.png"])),
    Bad(
        "NUL in a frame", "end_image_url", "NUL character", "without it", frames=frames("img1", "~/x\x00.png")
    ),
    Bad(
        "unknown ~user",
        "image_urls[0]",
        "no user named 'nosuchuser7q'",
        "full path",
        refs(["~nosuchuser7q/x.png"]),
    ),
    Bad(
        "@Image + 5000 digits",
        "prompt",
        "at most 9",
        "Fix the number",
        refs(["img1"], prompt="@Image" + "7" * 5000),
    ),
    Bad(
        "[Video + 5000 digits]",
        "prompt",
        "5,000 digits",
        "Fix the number",
        refs(["img1"], prompt="[Video" + "1" * 5000 + "]"),
    ),
    Bad("hard link from outside", "image_urls[0]", "hard links", "Copy the file", refs(["hardlink"])),
    Bad(
        "truncated PNG", "image_urls[0]", "damaged or truncated", "download the file again", refs(["cut_png"])
    ),
    Bad(
        "truncated JPEG frame",
        "image_url",
        "damaged or truncated",
        "download the file again",
        frames=frames("cut_jpg"),
    ),
    Bad(
        "user:pass URL",
        "image_urls[0]",
        "user name or password",
        "signed URL",
        refs(["https://u:pw@h.ex/a.png"]),
    ),
]


async def _run(case: Bad, lib: Lib, uploads: Uploads) -> CheckedInputs:
    if case.frames is not None:
        checked = await check_frames(**case.frames(lib), allowed_dirs=lib.allowed)
    else:
        assert case.refs is not None
        checked = await check_references(**case.refs(lib), allowed_dirs=lib.allowed)
    await upload_inputs(checked, uploads)
    return checked


@pytest.mark.parametrize(
    ("prompt", "references"),
    [
        ("email me@image1.com about it", []),
        ("see @Image1x and foo@Video1", []),
        ("the face from @Image1.", [("image", 1, "@Image1")]),
        ("(@video2) then [Audio 1]", [("video", 2, "@video2"), ("audio", 1, "[Audio 1]")]),
        ("visit @image1.com", []),
    ],
)
def test_a_reference_counts_only_as_a_word_of_its_own(prompt: str, references: list[Any]) -> None:
    assert prompt_references(prompt) == references


def test_corpus_is_large_enough() -> None:
    assert len(BAD) >= 40
    assert len({c.id for c in BAD}) == len(BAD)


@pytest.mark.anyio
@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
async def test_bad_input_is_refused_before_any_upload(
    case: Bad, lib: Lib, uploads: Uploads, sim: Simulator
) -> None:
    before = storage_requests(sim)
    with pytest.raises(InputError) as info:
        await _run(case, lib, uploads)
    message = str(info.value)
    assert info.value.field == case.field, message
    assert message.startswith(f"{case.field}: ")
    assert case.limit in message, message
    assert case.fix in message, message
    assert uploads.calls == []
    assert storage_requests(sim) == before
    # Refusals never show what a file holds.
    assert "PRIVATE" not in message and "secretsecret" not in message


# --- good inputs ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_kind_of_local_input_passes_and_uploads(
    lib: Lib, uploads: Uploads, sim: Simulator, client: httpx.AsyncClient
) -> None:
    checked = await check_references(
        "@Image1 walks past @Image2 to the beat of @Audio1, moving like @Video1 and [Video2]",
        [lib["img1"], lib["img2"], lib["img3"]],
        [lib["v640"], lib["v720"]],
        [lib["wav2"], lib["mp3_5"]],
        allowed_dirs=lib.allowed,
    )
    assert [i.field for i in checked.inputs] == [
        "image_urls[0]",
        "image_urls[1]",
        "image_urls[2]",
        "video_urls[0]",
        "video_urls[1]",
        "audio_urls[0]",
        "audio_urls[1]",
    ]
    assert [i.kind for i in checked.inputs] == ["image"] * 3 + ["video"] * 2 + ["audio"] * 2
    assert {i.source for i in checked.inputs} == {"path"}
    formats = [i.info.format for i in checked.inputs if i.info]
    assert formats == ["jpeg", "png", "webp", "mp4", "mov", "wav", "mp3"]
    assert checked.input_video_seconds == pytest.approx(5.0, abs=0.1)
    assert [w.split(";")[0] for w in checked.warnings] == [
        "image_urls[2] (@Image3) is never referenced in the prompt",
        "audio_urls[1] (@Audio2) is never referenced in the prompt",
    ]

    before = storage_requests(sim)
    urls = await upload_inputs(checked, uploads)
    assert len(urls) == len(checked.inputs)
    assert sorted(mime for _, mime in uploads.calls) == sorted(
        ["image/jpeg", "image/png", "image/webp", "video/mp4", "video/quicktime", "audio/wav", "audio/mpeg"]
    )
    assert storage_requests(sim) > before
    # fetched with the test's own client, the one the provider was given
    for item, url in zip(checked.inputs, urls, strict=True):
        response = await client.get(url)
        assert response.status_code == 200
        assert response.content == Path(item.value).read_bytes()
    assert KEY not in repr(sim.request_log())


@pytest.mark.anyio
async def test_the_same_file_twice_is_uploaded_once(lib: Lib, uploads: Uploads) -> None:
    checked = await check_references(
        "@Image1 and @Image2", [lib["img1"], lib["img1"]], [], [], allowed_dirs=lib.allowed
    )
    urls = await upload_inputs(checked, uploads)
    assert len(uploads.calls) == 1
    assert urls[0] == urls[1]


@pytest.mark.anyio
async def test_urls_pass_through_untouched(lib: Lib, uploads: Uploads) -> None:
    image = URL + "cat.webp?sig=abc"
    video = "http://127.0.0.1:9/clip"  # loopback http is the simulator's case; no extension is fine
    checked = await check_references(
        "@Image1 in the style of @Video1 with @Audio1",
        [image],
        [video],
        [URL + "beat.mp3"],
        allowed_dirs=lib.allowed,
    )
    assert [(i.source, i.info) for i in checked.inputs] == [("url", None)] * 3
    assert checked.input_video_seconds is None  # a URL video's length is unknown without downloading
    assert checked.warnings == ()
    urls = await upload_inputs(checked, uploads)
    assert urls == [image, video, URL + "beat.mp3"]
    assert uploads.calls == []


@pytest.mark.anyio
async def test_a_short_local_video_beside_a_url_video_is_not_refused(lib: Lib) -> None:
    # The URL video's length is unknown, so the 2 s minimum cannot be judged.
    checked = await check_references(
        "@Video1 then @Video2", [], [lib["v_short"], URL + "b.mov"], [], allowed_dirs=lib.allowed
    )
    assert checked.input_video_seconds is None


@pytest.mark.anyio
async def test_data_uris_become_private_temp_files_removed_after_upload(lib: Lib, uploads: Uploads) -> None:
    checked = await check_references(
        "@Image1 sings @Audio1",
        [data_uri(lib["img2"], "image/png")],
        [],
        [
            data_uri(lib["wav2"], "audio/wav"),
            "data:application/octet-stream;base64,"
            + base64.b64encode(Path(lib["mp3_5"]).read_bytes()).decode(),
        ],
        allowed_dirs=lib.allowed,
    )
    temp = [Path(i.value) for i in checked.inputs]
    assert [i.source for i in checked.inputs] == ["data"] * 3
    assert [i.info.format for i in checked.inputs if i.info] == ["png", "wav", "mp3"]
    for path in temp:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert temp[0].read_bytes() == Path(lib["img2"]).read_bytes()
    urls = await upload_inputs(checked, uploads)
    assert len(uploads.calls) == 3 and len(set(urls)) == 3
    assert not any(path.exists() for path in temp)


@pytest.mark.anyio
async def test_data_uri_temp_files_are_removed_when_a_later_input_fails(lib: Lib) -> None:
    with pytest.raises(InputError) as info:
        await check_references(
            "@Image1 @Image2",
            [data_uri(lib["img2"], "image/png"), lib["text_png"]],
            [],
            [],
            allowed_dirs=lib.allowed,
        )
    assert info.value.field == "image_urls[1]"
    leftovers = list(Path(os.environ.get("TMPDIR", "/tmp")).glob("seedance-inputs-*/image-urls-0-*"))
    assert leftovers == []


@pytest.mark.anyio
async def test_release_deletes_unuploaded_data_files(lib: Lib) -> None:
    checked = await check_references(
        "@Image1", [data_uri(lib["img1"], "image/jpeg")], [], [], allowed_dirs=lib.allowed
    )
    path = Path(checked.inputs[0].value)
    assert path.exists()
    release(checked)
    assert not path.exists()


@pytest.mark.anyio
async def test_home_and_file_url_paths_resolve(lib: Lib, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(lib.home))
    checked = await check_references(
        "@Image1 @Image2 @Image3",
        ["~/media/img1.jpeg", "file://" + lib["img2"], "file://localhost" + lib["img3"].replace(" ", "%20")],
        [],
        [],
        allowed_dirs=(Path("~"),),
    )
    assert [i.value for i in checked.inputs] == [
        os.path.realpath(lib["img1"]),
        os.path.realpath(lib["img2"]),
        os.path.realpath(lib["img3"]),
    ]


@pytest.mark.anyio
async def test_largest_allowed_video_and_phone_rotation_pass(lib: Lib, tmp_path: Path) -> None:
    # Stored landscape with a quarter turn, as phones record portrait: 834x1112 is the documented maximum.
    phone = make_video(tmp_path / "phone.mp4", 1112, 834, 2.0, rotation=-90)
    checked = await check_references("@Video1", [], [str(phone)], [], allowed_dirs=(tmp_path,))
    info = checked.inputs[0].info
    assert info is not None and (info.width, info.height) == (834, 1112)


@pytest.mark.anyio
async def test_nine_images_three_videos_three_audios_is_too_many_but_twelve_pass(lib: Lib) -> None:
    images = [lib[f"img{i}"] for i in range(1, 7)]
    videos = [lib["v640"], lib["v720"], lib["v640"]]
    audios = [lib["wav2"], lib["mp3_5"], lib["wav2"]]
    checked = await check_references("go", images, videos, audios, allowed_dirs=lib.allowed)
    assert len(checked.inputs) == 12
    assert checked.input_video_seconds == pytest.approx(7.0, abs=0.2)
    assert len(checked.warnings) == 12  # "go" names none of them


@pytest.mark.anyio
async def test_frames_accept_gif_and_avif_and_urls(lib: Lib) -> None:
    checked = await check_frames("a slow push-in", lib["gif"], lib["avif"], allowed_dirs=lib.allowed)
    assert [(i.field, i.info.format if i.info else None) for i in checked.inputs] == [
        ("image_url", "gif"),
        ("end_image_url", "avif"),
    ]
    assert checked.warnings == () and checked.input_video_seconds == 0.0
    by_url = await check_frames("pan", URL + "start.avif", None, allowed_dirs=lib.allowed)
    assert by_url.inputs[0].source == "url"
    noted = await check_frames("@Image1 turns", lib["img1"], None, allowed_dirs=lib.allowed)
    assert "reference_video" in noted.warnings[0]


@pytest.mark.anyio
async def test_no_allowed_dirs_means_no_local_files(lib: Lib) -> None:
    with pytest.raises(InputError, match="SEEDANCE_ALLOWED_DIRS"):
        await check_references("@Image1", [lib["img1"]], [], [], allowed_dirs=())


@pytest.mark.anyio
async def test_a_failed_upload_stops_the_rest(lib: Lib, tmp_path: Path) -> None:
    calls: list[Path] = []

    async def broken(path: Path, content_type: str) -> str:
        calls.append(path)
        raise OSError("network down")

    checked = await check_references(
        "@Image1", [lib[f"img{i}"] for i in range(1, 10)], [], [], allowed_dirs=lib.allowed
    )
    with pytest.raises(OSError, match="network down"):
        await upload_inputs(checked, broken)
    assert 1 <= len(calls) < 9
