"""Saving finished videos, against a small real HTTP server on loopback that misbehaves on request.

The server (`Origin`) speaks plain HTTP/1.1 over a TCP socket, so cut bodies, missing lengths and
stalls are real ones, seen by httpx exactly as a flaky CDN would make them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import SocketAttribute, SocketStream

from seedance_mcp.server.delivery.download import Deliverer
from seedance_mcp.server.delivery.video_names import safe_id, safe_target, slugify, video_filename
from seedance_mcp.server.errors import ConfigError, ProviderError
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.jobs.partial_files import PartialFiles, find_partials
from seedance_mcp.server.journal.sqlite import JobRecord
from seedance_mcp.server.outbound import AddressPolicy
from seedance_mcp.server.providers.base import VideoOutput
from tests.media_factory import make_video

pytestmark = pytest.mark.anyio
LOCAL = AddressPolicy(allow_loopback=True)  # the origin is on loopback; the policy has its own tests

NAME_PATTERN = re.compile(r"\d{8}-\d{6}_[A-Za-z0-9_-]+_[a-z0-9-]+\.mp4")

# --- a misbehaving origin -------------------------------------------------------------------------

Behaviour = Callable[[SocketStream, "Request"], Awaitable[None]]


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class Origin:
    """Serves each path by a list of behaviours, one per request (the last one repeats)."""

    routes: dict[str, list[Behaviour]] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)
    url: str = ""

    def route(self, path: str, *behaviours: Behaviour) -> str:
        self.routes[path] = list(behaviours)
        return self.url + path

    def hits(self, path: str) -> int:
        return sum(1 for r in self.seen if r.path == path)

    async def handle(self, stream: SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    data += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            request = Request(path, headers)
            self.seen.append(request)
            behaviours = self.routes.get(path) or [status(404)]
            behaviour = behaviours.pop(0) if len(behaviours) > 1 else behaviours[0]
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await behaviour(stream, request)


async def _send_head(stream: SocketStream, code: int, headers: dict[str, str]) -> None:
    lines = [f"HTTP/1.1 {code} X", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def body(
    data: bytes, *, length: bool = True, keep: float = 1.0, extra: dict[str, str] | None = None
) -> Behaviour:
    """Answer 200 with `data`; `keep` < 1 sends only that share of it and then closes the connection."""

    async def send(stream: SocketStream, request: Request) -> None:
        headers = {"Content-Type": "video/mp4", **(extra or {})}
        if length:
            headers["Content-Length"] = str(len(data))
        await _send_head(stream, 200, headers)
        await stream.send(data[: int(len(data) * keep)])

    return send


def status(code: int, headers: dict[str, str] | None = None) -> Behaviour:
    async def send(stream: SocketStream, request: Request) -> None:
        await _send_head(stream, code, {"Content-Length": "0", **(headers or {})})

    return send


def stall_after(data: bytes, declared: int) -> Behaviour:
    """Send headers and `data`, then hang: a download that is under way when its process is killed."""

    async def send(stream: SocketStream, request: Request) -> None:
        await _send_head(stream, 200, {"Content-Type": "video/mp4", "Content-Length": str(declared)})
        await stream.send(data)
        await anyio.sleep_forever()

    return send


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    server = Origin()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    server.url = f"http://127.0.0.1:{listener.extra(SocketAttribute.local_port)}"
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        yield server
        tg.cancel_scope.cancel()
    await listener.aclose()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = make_video(tmp_path_factory.mktemp("media") / "clip.mp4", 320, 180, 3.0, fps=8, audio=True)
    return path.read_bytes()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "videos", tmp_path / "previews"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=tls_context(), timeout=httpx.Timeout(10.0)) as client:
        yield client


def deliverer(http: httpx.AsyncClient, folders: tuple[Path, Path], **kwargs: Any) -> Deliverer:
    return Deliverer(
        http, policy=LOCAL, output_dir=folders[0], preview_dir=folders[1], backoff_seconds=0.01, **kwargs
    )


def job(prompt: str = "A lighthouse in a storm", job_id: str = "sd_AbC-12_xyZ9", **kw: Any) -> JobRecord:
    now = time.time()
    return JobRecord(
        id=job_id,
        created_at=now,
        updated_at=now,
        provider="fal",
        simulated=False,
        tool="generate_video",
        tier="fast",
        mode="text-to-video",
        endpoint="bytedance/seedance-2.0/fast/text-to-video",
        arguments={"prompt": prompt},
        estimate={},
        estimate_usd=1.0,
        **kw,
    )


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.exists() else []


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# --- the happy path -------------------------------------------------------------------------------


async def test_a_download_lands_under_our_name_with_its_hash_and_a_preview(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes
) -> None:
    url = origin.route("/files/abc/output.mp4", body(video_bytes))
    deliver = deliverer(http, folders)
    record = job()
    with anyio.fail_after(60):
        fields = await deliver(record, VideoOutput(url=url, file_size=len(video_bytes)))

    saved = Path(fields["video_path"])
    assert saved.parent == folders[0].resolve()
    assert names(folders[0]) == [saved.name] == [video_filename(record)]
    assert NAME_PATTERN.fullmatch(saved.name)
    assert "sd_AbC-12_xyZ9" in saved.name and "a-lighthouse-in-a-storm" in saved.name
    assert saved.read_bytes() == video_bytes
    assert fields["video_sha256"] == hashlib.sha256(video_bytes).hexdigest()
    assert fields["video_bytes"] == len(video_bytes)

    poster, sheet = deliver.preview_paths(record.id)
    assert poster.read_bytes()[:3] == sheet.read_bytes()[:3] == b"\xff\xd8\xff"
    facts = deliver.video_facts(record.id)
    assert facts is not None
    assert (facts["width"], facts["height"], facts["has_audio"], facts["bytes"]) == (
        320,
        180,
        True,
        len(video_bytes),
    )
    assert abs(facts["duration"] - 3.0) < 0.2 and facts["fps"] == 8


async def test_a_download_of_several_chunks_is_saved_whole_and_in_order(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes
) -> None:
    # Chunks of up to 1 MiB are written one behind the other, the last with the fsync.
    data = video_bytes + bytes(range(256)) * 10_000  # about 2.5 MB: three chunks or more
    url = origin.route("/files/big/output.mp4", body(data))
    with anyio.fail_after(60):
        fields = await deliverer(http, folders).save_video(job(), VideoOutput(url=url, file_size=len(data)))
    assert Path(fields["video_path"]).read_bytes() == data
    assert fields["video_sha256"] == hashlib.sha256(data).hexdigest() and fields["video_bytes"] == len(data)
    assert names(folders[0]) == [Path(fields["video_path"]).name]  # no part file left beside it


async def test_inline_bytes_are_saved_the_same_way(
    http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes
) -> None:
    fields = await deliverer(http, folders)(job(), VideoOutput(url="", data=video_bytes))
    assert Path(fields["video_path"]).read_bytes() == video_bytes
    assert names(folders[0]) == [Path(fields["video_path"]).name]


async def test_a_video_that_cannot_be_previewed_is_still_saved(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes
) -> None:
    # The right header (ftyp) and a length that matches, but no playable content: saved, no preview.
    broken = video_bytes[:32] + b"\x00" * 4000
    url = origin.route("/broken.mp4", body(broken))
    deliver = deliverer(http, folders)
    fields = await deliver(job(), VideoOutput(url=url))
    assert Path(fields["video_path"]).read_bytes() == broken
    assert not any(p.exists() for p in deliver.preview_paths(job().id))


async def test_a_video_saved_elsewhere_gets_its_preview_here_once(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes, tmp_path: Path
) -> None:
    # Another process saved the video into a shared folder; this one keeps its previews elsewhere.
    saver = deliverer(http, folders)
    fields = await saver(job(), VideoOutput(url=origin.route("/shared.mp4", body(video_bytes))))
    here = deliverer(http, (folders[0], tmp_path / "previews-here"))
    assert here.video_facts(job().id) is None
    await here.ensure_preview(job().id, Path(fields["video_path"]))
    assert all(p.is_file() for p in here.preview_paths(job().id))
    assert (here.video_facts(job().id) or {}).get("width") == 320
    # Not tried again: a missing video, or a preview that could not be made, costs one attempt.
    other = job().id + "x"
    await here.ensure_preview(other, tmp_path / "gone.mp4")
    (tmp_path / "gone.mp4").write_bytes(video_bytes)
    await here.ensure_preview(other, tmp_path / "gone.mp4")
    assert not any(p.exists() for p in here.preview_paths(other))


# --- failures: retries, cut bodies, no partial file under the final name ------------------------


async def test_a_cut_body_is_retried_and_the_retry_is_saved_whole(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes
) -> None:
    url = origin.route("/v.mp4", body(video_bytes, keep=0.5), status(503), body(video_bytes))
    with anyio.fail_after(60):
        fields = await deliverer(http, folders)(job(), VideoOutput(url=url))
    assert origin.hits("/v.mp4") == 3
    assert Path(fields["video_path"]).read_bytes() == video_bytes
    assert names(folders[0]) == [Path(fields["video_path"]).name]  # no temporary file left


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "until-close"])
async def test_a_body_cut_every_time_leaves_nothing_under_the_final_name(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes, length: bool
) -> None:
    url = origin.route("/v.mp4", body(video_bytes, keep=0.5, length=length))
    with anyio.fail_after(60), pytest.raises(ProviderError) as caught:
        await deliverer(http, folders)(job(), VideoOutput(url=url))
    assert origin.hits("/v.mp4") == 3
    assert "3 tries" in str(caught.value) and "still at its URL" in str(caught.value)
    assert names(folders[0]) == []  # neither the final name nor a temporary file


@pytest.mark.parametrize("code", [403, 404, 410])
async def test_a_gone_url_is_not_retried(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], code: int
) -> None:
    url = origin.route("/gone.mp4", status(code))
    with pytest.raises(ProviderError, match=f"HTTP {code}"):
        await deliverer(http, folders)(job(), VideoOutput(url=url))
    assert origin.hits("/gone.mp4") == 1
    assert names(folders[0]) == []


async def test_something_that_is_not_a_video_is_not_saved_as_one(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path]
) -> None:
    url = origin.route("/v.mp4", body(b"<html>Access denied</html>", extra={"Content-Type": "text/html"}))
    with pytest.raises(ProviderError, match="not an MP4"):
        await deliverer(http, folders)(job(), VideoOutput(url=url))
    assert names(folders[0]) == []


async def test_redirects_are_followed_without_the_key(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes
) -> None:
    origin.route("/signed/v.mp4", body(video_bytes))
    url = origin.route("/api/result", status(302, {"Location": "/signed/v.mp4"}))
    deliver = deliverer(http, folders, headers_for=lambda u: {"Authorization": "Bearer sekrit"})
    fields = await deliver(job(), VideoOutput(url=url))
    assert Path(fields["video_path"]).read_bytes() == video_bytes
    first, second = origin.seen
    assert first.headers.get("authorization") == "Bearer sekrit"
    assert "authorization" not in second.headers


async def test_every_os_error_while_saving_is_a_config_error_naming_the_setting(
    origin: Origin, http: httpx.AsyncClient, tmp_path: Path, video_bytes: bytes
) -> None:
    # The folder exists, but the file the video must be renamed to is a non-empty folder: the
    # rename fails (EISDIR/ENOTEMPTY), even for root, after the whole download.
    out = tmp_path / "videos"
    record = job()
    (out / video_filename(record) / "inside").mkdir(parents=True)
    url = origin.route("/v.mp4", body(video_bytes))
    deliver = Deliverer(http, policy=LOCAL, output_dir=out, preview_dir=tmp_path / "p")
    with pytest.raises(ConfigError, match="SEEDANCE_OUTPUT_DIR") as caught:
        await deliver(record, VideoOutput(url=url))
    assert "tries again" in str(caught.value)
    assert find_partials(out) == []  # the partial download was removed


async def test_an_unwritable_output_folder_is_a_config_error_naming_the_setting(
    origin: Origin, http: httpx.AsyncClient, tmp_path: Path, video_bytes: bytes
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    url = origin.route("/v.mp4", body(video_bytes))
    deliver = Deliverer(http, policy=LOCAL, output_dir=blocker / "videos", preview_dir=tmp_path / "p")
    with pytest.raises(ConfigError, match="SEEDANCE_OUTPUT_DIR"):
        await deliver(job(), VideoOutput(url=url))
    assert origin.hits("/v.mp4") == 0


KILLED_CHILD = """
import sys, time, anyio, httpx
from pathlib import Path
from seedance_mcp.server.delivery.download import Deliverer
from seedance_mcp.server.journal.sqlite import JobRecord
from seedance_mcp.server.outbound import AddressPolicy
LOCAL = AddressPolicy(allow_loopback=True)
from seedance_mcp.server.providers.base import VideoOutput

async def main():
    record = JobRecord(id="sd_killedmidway", created_at=time.time(), updated_at=time.time(), provider="fal",
                       simulated=False, tool="generate_video", tier="fast", mode="text-to-video",
                       endpoint="", arguments={"prompt": "killed midway"}, estimate={}, estimate_usd=0)
    async with httpx.AsyncClient() as http:
        out = Path(sys.argv[2])
        deliver = Deliverer(
            http, policy=LOCAL, output_dir=out, preview_dir=out.parent / "p", owner=sys.argv[3]
        )
        await deliver(record, VideoOutput(url=sys.argv[1]))

anyio.run(main)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
async def test_a_killed_download_leaves_no_file_under_the_final_name_only_a_part_named_for_its_owner(
    origin: Origin, http: httpx.AsyncClient, folders: tuple[Path, Path], video_bytes: bytes
) -> None:
    # Three MiB arrive, then the origin stalls with three more promised: the child is mid-download.
    url = origin.route("/slow.mp4", stall_after(video_bytes + b"\x00" * (3 << 20), declared=6 << 20))
    out = folders[0]
    process = await anyio.open_process(
        [sys.executable, "-c", KILLED_CHILD, url, str(out), "p4242-0badf00d"],
        cwd=Path(__file__).parent.parent,
    )
    try:
        with anyio.fail_after(60):
            while not [p for p in out.glob(".*.part") if p.stat().st_size >= 1 << 20]:
                assert process.returncode is None, "the child ended before it was killed"
                await anyio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.aclose()

    leftovers = names(out)
    assert len(leftovers) == 1 and leftovers[0].startswith(".") and leftovers[0].endswith(".part")
    assert not [n for n in leftovers if n.endswith(".mp4")]  # nothing under a final name

    # The partial file says whose it is, so a process starting up can tell whether its owner still
    # holds the job (see test_recovery); removing it leaves the folder clean.
    leftover_files = PartialFiles([out])
    [part] = await leftover_files.partial_files()
    assert (part.job_id, part.owner, part.path.name) == ("sd_killedmidway", "p4242-0badf00d", leftovers[0])
    await leftover_files.remove_partial(part.path)
    assert names(out) == [] and await leftover_files.partial_files() == []


# --- hostile names --------------------------------------------------------------------------------

HOSTILE_PROMPTS = [
    "../../../../etc/passwd",
    "/etc/cron.d/evil",
    "..\\..\\Windows\\System32\\evil.dll",
    "C:\\Users\\Public\\evil",
    "nul\x00byte and more",
    "CON",
    "aux.mp4",
    "..",
    ".",
    "",
    "   ",
    "~/.ssh/authorized_keys",
    "$(rm -rf ~) `reboot`",
    "a" * 5000,
    "🎬🎥 " * 300,
    "摄影机缓慢推进,一只猫在雨中",
    "line\nbreak\rcarriage\ttab",
    "%2e%2e%2f%2e%2e%2fescape",
]


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS, ids=range(len(HOSTILE_PROMPTS)))
async def test_hostile_prompts_and_provider_names_never_write_outside_the_output_folder(
    origin: Origin, http: httpx.AsyncClient, tmp_path: Path, video_bytes: bytes, prompt: str
) -> None:
    out, previews = tmp_path / "deep" / "videos", tmp_path / "deep" / "previews"
    before = all_files(tmp_path)
    # The provider's own file name and headers are hostile too; none of them may matter.
    url = origin.route(
        "/files/x/..%2F..%2F..%2Fescape.mp4",
        body(video_bytes, extra={"Content-Disposition": 'attachment; filename="../../../escape.mp4"'}),
    )
    output = VideoOutput(url=url, file_name="../../../escape.mp4")
    deliver = Deliverer(http, policy=LOCAL, output_dir=out, preview_dir=previews, backoff_seconds=0.01)
    fields = await deliver(job(prompt), output)

    saved = Path(fields["video_path"])
    assert saved.parent == out.resolve()
    assert NAME_PATTERN.fullmatch(saved.name), saved.name
    assert len(saved.name.encode()) <= 120
    assert names(out) == [saved.name]
    created = all_files(tmp_path) - before
    assert {p.parent for p in created} <= {out, previews}, created


@pytest.mark.parametrize(
    "job_id", ["../../escape", "/abs/path", "sd_\x00nul", "CON", "x" * 500, "sd_ok/../../up", ""]
)
async def test_hostile_job_ids_never_write_outside_the_folders(
    origin: Origin, http: httpx.AsyncClient, tmp_path: Path, video_bytes: bytes, job_id: str
) -> None:
    out, previews = tmp_path / "videos", tmp_path / "previews"
    url = origin.route("/v.mp4", body(video_bytes))
    deliver = Deliverer(http, policy=LOCAL, output_dir=out, preview_dir=previews)
    fields = await deliver(job(job_id=job_id), VideoOutput(url=url))
    assert NAME_PATTERN.fullmatch(Path(fields["video_path"]).name)
    created = all_files(tmp_path)
    assert {p.parent for p in created} <= {out, previews}, created
    assert all(p.parent == previews for p in deliver.preview_paths(job_id))


@pytest.mark.parametrize(
    "name",
    [
        "../x.mp4",
        "/etc/passwd",
        "a/b.mp4",
        "a\\b.mp4",
        "a\x00b.mp4",
        "CON.mp4",
        "nul",
        "",
        ".",
        "..",
        "x" * 300,
    ],
)
def test_safe_target_refuses_anything_but_one_plain_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ProviderError, match="unsafe name"):
        safe_target(tmp_path, name)


def test_names_are_slugs_and_ids_are_kept_or_hashed() -> None:
    assert slugify("Ünïcödé café — 4K!") == "unicode-cafe-4k"
    assert slugify("CON") == "video-con" and slugify("") == "video" and slugify("../..") == "video"
    assert len(slugify("word " * 100)) <= 48
    assert safe_id("sd_AbC-12_xyZ9") == "sd_AbC-12_xyZ9"
    assert safe_id("../x") != safe_id("../y")
    assert re.fullmatch(r"x[0-9a-f]{16}", safe_id("../x"))
