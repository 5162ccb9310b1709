"""Saving finished videos: a streamed download (or the provider's inline bytes), an atomic rename.

The provider's URL expires (fal keeps results about an hour), so every finished video is copied into
the output folder, under a name of ours (`video_names`), and then previewed (`preview_files`). A
download streams into a hidden temporary file in the same folder (created exclusively, so nothing
planted there can redirect it) and is renamed into place only when complete and recognisably a video,
so a killed or cut download never leaves a partial file under the final name. The temporary file's
name carries the job id and the owner (the process holding the job's lease), so that the process
taking the job over removes it (`partial_files`). Before the rename the caller may confirm the job is
still its own (`before_commit`), so an owner that was paused past its lease never commits over the
work of the one that took the job over; a video already in place under the job's name (committed by
an owner that stopped before journaling it) is taken as saved instead of being downloaded again.

Failures: every OS error while saving (disk full, read-only or unwritable folder...) is a
`ConfigError` naming SEEDANCE_OUTPUT_DIR, and worth another try later; a URL that will never give us
the video is a `VideoUnavailable` (`lasting`); anything else is a `ProviderError` worth another try.
The job keeps its URL either way. A preview (poster frame, contact sheet, video facts) is a
courtesy: its failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx

from ..background import background_pool
from ..errors import RETRYABLE_STATUS, ConfigError, ProviderError, VideoUnavailable
from ..jobs.owners import new_owner_id
from ..jobs.partial_files import discard, partial_path
from ..journal.api import JobRecord
from ..outbound import PUBLIC_ONLY, AddressPolicy, Refused, Unreachable, open_async
from ..providers.base import VideoOutput
from .preview_store import PreviewFiles
from .video_names import safe_target, video_filename

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 3  # a result URL that fails three times in a row is reported, with the URL kept
# Previews rendered at once in a process. Each decode peaks at ~15-20 MB; on this box's 2 CPUs a second
# one at a time added that much to peak RSS with 200 jobs finishing, for no gain in total time (and 40
# at once, anyio's thread default, took a process near 900 MB and stalled its event loop).
PREVIEW_CONCURRENCY = 1
# Worker threads for the file I/O of all downloads together (writes, fsyncs, renames). Each chunk is
# a quick write, so a few threads keep up with 200 downloads; see `Deliverer.__init__` for why few.
IO_CONCURRENCY = 4
# Downloads at once in a process. More would not arrive sooner (they share one network link) and would
# take the shared HTTP pool's connections (`server.http_pool`) from result reads and status checks
# when a thousand jobs finish together.
DOWNLOAD_CONCURRENCY = 8
BACKOFF_SECONDS = 0.5  # first retry after 1 s, then 2 s: a CDN hiccup clears, an expired URL does not
# Seedance clips are tens of MB (15 s at 720p); anything past this is not a clip and would fill the disk.
MAX_VIDEO_BYTES = 2 * 1024**3
# One attempt may take this long overall: the client's read timeout only bounds each chunk, and a URL
# trickling a byte a second would otherwise hold the job open for days.
ATTEMPT_SECONDS = 600.0
VIDEO_FORMATS = frozenset({"mp4", "mov"})

BeforeCommit = Callable[[], Awaitable[None]]  # raises when the file must not be renamed into place


@functools.cache
def _preview_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process's preview threads, at background priority (`server.background`): a preview is
    CPU work nobody waits on, and must not delay the webhooks and answers of other jobs."""
    return background_pool(PREVIEW_CONCURRENCY, "preview")


def lasting(exc: BaseException) -> bool:
    """Whether a save failure is for good (the URL is gone), as opposed to worth another try later."""
    return isinstance(exc, VideoUnavailable)


class _Retry(Exception):
    """One attempt failed in a way another attempt may fix."""


class Deliverer:
    """Downloads a job's video into `output_dir` and renders its preview into `preview_dir`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        output_dir: Path,
        preview_dir: Path,
        policy: AddressPolicy = PUBLIC_ONLY,
        headers_for: Callable[[str], dict[str, str]] = lambda url: {},
        backoff_seconds: float = BACKOFF_SECONDS,
        owner: str | None = None,
    ) -> None:
        self._client = client
        self.owner = owner or new_owner_id()  # the lease owner: it names this process's partial files
        self._output_dir = output_dir
        self._previews = PreviewFiles(preview_dir, self.owner)
        self._policy = policy  # where result URLs may lead: public hosts and the configured provider's
        self._headers_for = headers_for
        self._backoff = backoff_seconds
        # Without a limiter each `to_thread` call may start another worker (anyio allows 40), and each
        # new thread gets its own glibc malloc arena, which keeps what a preview freed in it: 200
        # downloads finishing together grew the pool to ~20 threads; bounding it cut 20-35 MB of peak RSS.
        self._io_slots = anyio.CapacityLimiter(IO_CONCURRENCY)
        self._download_slots = anyio.CapacityLimiter(DOWNLOAD_CONCURRENCY)
        self._previews_checked: set[str] = set()  # jobs whose preview this process has made or looked for

    async def __call__(
        self, job: JobRecord, output: VideoOutput, before_commit: BeforeCommit | None = None
    ) -> dict[str, Any]:
        """Save the video and render its preview; returns the journal fields `video_path`,
        `video_sha256`, `video_bytes`. `before_commit` is awaited just before the file is renamed
        into place."""
        saved = await self.save_video(job, output, before_commit)
        await self.render_preview(job.id, Path(saved["video_path"]))
        return saved

    async def save_video(
        self, job: JobRecord, output: VideoOutput, before_commit: BeforeCommit | None = None
    ) -> dict[str, Any]:
        """Only the video file, without the preview (same fields as a call)."""
        # One trip to a worker thread before the download starts (each trip waits for a CPU when the
        # machine is busy, and the waiting call waits on all of them).
        folder, target, already = await anyio.to_thread.run_sync(
            self._prepare, video_filename(job), limiter=self._io_slots
        )
        confirm = before_commit or _nothing_to_confirm
        try:
            if already is not None:
                log.info("job %s: its video is already saved at %s; not downloading it again", job.id, target)
                digest, size = already
            elif output.data is not None:
                await confirm()
                digest, size = await anyio.to_thread.run_sync(
                    self._write_data, target, output.data, limiter=self._io_slots
                )
            else:
                digest, size = await self._download(output.url, target, confirm)
        except OSError as exc:  # wherever it came from, an OS error while saving is the folder's
            raise _folder_error(folder, exc) from exc
        if output.file_size is not None and output.file_size != size:
            log.warning("job %s: provider said %d bytes, got %d", job.id, output.file_size, size)
        return {"video_path": str(target), "video_sha256": digest, "video_bytes": size}

    # --- previews and facts (the files themselves: `PreviewFiles`) -----------------------------------

    def preview_paths(self, job_id: str) -> tuple[Path, Path]:
        """Where the poster frame and the contact sheet of a job are (or will be)."""
        return self._previews.paths(job_id)

    def video_facts(self, job_id: str) -> dict[str, Any] | None:
        """Duration, width, height, fps, has_audio and bytes of a saved video, if it could be read."""
        return self._previews.facts(job_id)

    async def render_preview(self, job_id: str, video: Path) -> None:
        """Poster frame, contact sheet and facts next to the journal; a failure never fails the job."""
        try:
            work = _preview_pool().submit(self._previews.write, job_id, video)
            with anyio.CancelScope(shield=True):  # as a worker thread's call: it ends when the work does
                await asyncio.wrap_future(work)
        except Exception as exc:  # a preview is a courtesy: log it, keep the job
            log.warning("job %s: preview failed: %s", job_id, exc)

    async def ensure_preview(self, job_id: str, video: Path) -> None:
        """Render the preview of a saved video that has none here (saved by another process whose
        previews this one cannot see). Looked for once a process."""
        if job_id in self._previews_checked:
            return
        self._previews_checked.add(job_id)
        if self._previews.facts(job_id) is None and await anyio.to_thread.run_sync(
            video.is_file, limiter=self._io_slots
        ):
            await self.render_preview(job_id, video)

    def _prepare(self, name: str) -> tuple[Path, Path, tuple[str, int] | None]:
        """The folder, the video's path in it, and the digest and size of a whole copy already there."""
        try:
            self._output_dir.mkdir(parents=True, exist_ok=True)
            folder = self._output_dir.resolve(strict=True)
        except OSError as exc:
            raise _folder_error(self._output_dir, exc) from exc
        target = safe_target(folder, name)
        try:
            already = _saved_whole(target)
        except OSError as exc:
            raise _folder_error(folder, exc) from exc
        return folder, target, already

    def _write_data(self, target: Path, data: bytes) -> tuple[str, int]:
        """Bytes the provider sent inline (Oxen's b64_json), saved like a download."""
        if _video_format(data[:64]) is None:
            raise VideoUnavailable("the provider's answer holds something that is not an MP4 video")
        tmp = partial_path(target, self.owner)
        try:
            with _create_exclusive(tmp) as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            _commit(tmp, target)
        finally:
            discard(tmp)
        return hashlib.sha256(data).hexdigest(), len(data)

    async def _download(self, url: str, target: Path, confirm: BeforeCommit) -> tuple[str, int]:
        problem = "no attempt was made"
        for attempt in range(DOWNLOAD_ATTEMPTS):
            if attempt:
                await anyio.sleep(self._backoff * 2**attempt)
            tmp = partial_path(target, self.owner)  # random per attempt: attempts never share one
            committed = False
            try:
                async with self._download_slots:
                    with anyio.fail_after(ATTEMPT_SECONDS):
                        digest, size = await self._fetch(url, tmp)
                await confirm()
                await anyio.to_thread.run_sync(_commit, tmp, target, limiter=self._io_slots)
                committed = True
                return digest, size
            except _Retry as exc:
                problem = str(exc)
            except TimeoutError:
                problem = f"the download took longer than {ATTEMPT_SECONDS:.0f} s"
            except httpx.HTTPError as exc:
                problem = _describe_http_error(exc)
            finally:
                # Also on cancellation (a lost lease, shutdown): shielded, or the cancelled scope would
                # stop the removal before it starts. Once renamed into place there is nothing left.
                if not committed:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(discard, tmp, limiter=self._io_slots)
            log.info("download attempt %d for %s failed: %s", attempt + 1, target.name, problem)
        raise ProviderError(
            f"could not download the video after {DOWNLOAD_ATTEMPTS} tries ({problem}); "
            "it is still at its URL until the provider expires it"
        )

    async def _fetch(self, url: str, tmp: Path) -> tuple[str, int]:
        """One attempt through the outbound door (every hop checked, the connection pinned to the
        checked address): stream the raw body into `tmp`, check it is whole."""
        # The key goes only where headers_for says (Oxen's own host), and only on the first request:
        # never to wherever a redirect points.
        try:
            async with open_async(self._client, url, self._policy, first_headers=self._headers_for(url)) as (
                _,
                response,
            ):
                if not response.is_success:
                    message = f"the URL answered HTTP {response.status_code}"
                    if response.status_code in RETRYABLE_STATUS:
                        raise _Retry(message)
                    raise VideoUnavailable(
                        f"could not download the video: {message} (the link may have expired); "
                        "it cannot be fetched again"
                    )
                return await self._receive(response, tmp)
        except Refused as exc:
            raise VideoUnavailable(f"could not download the video: {exc}") from None
        except Unreachable as exc:
            raise _Retry(str(exc)) from None

    async def _receive(self, response: httpx.Response, tmp: Path) -> tuple[str, int]:
        declared = _declared_length(response)
        if declared is not None and declared > MAX_VIDEO_BYTES:
            raise VideoUnavailable(f"refusing to download {declared} bytes: no Seedance clip is that large")
        digest = hashlib.sha256()
        size = 0
        head = b""
        with _create_exclusive(tmp) as out:
            # Each chunk is written when the next arrives, the last with the fsync: a clip of one
            # chunk costs one trip to a worker thread, not two (a thousand saves make thousands).
            held = b""
            async for chunk in response.aiter_raw(1 << 20):  # raw: the door refused any compression
                size += len(chunk)
                if size > MAX_VIDEO_BYTES:
                    raise VideoUnavailable(f"refusing a download past {MAX_VIDEO_BYTES} bytes: not a clip")
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                if held:
                    await anyio.to_thread.run_sync(out.write, held, limiter=self._io_slots)
                held = chunk
            await anyio.to_thread.run_sync(_write_and_sync, out, held, limiter=self._io_slots)
        # httpx already refuses a body cut short of its Content-Length; this also covers the rest.
        if declared is not None and size != declared:
            raise _Retry(f"the download stopped at {size} of {declared} bytes")
        fmt = _video_format(head)
        if fmt is None:
            raise _Retry("the URL served something that is not an MP4 video")
        if declared is None:
            # Without a length the only sign of a cut body is a truncated container.
            await anyio.to_thread.run_sync(_check_whole, tmp, limiter=self._io_slots)
        return digest.hexdigest(), size


# --- helpers --------------------------------------------------------------------------------------


def _video_format(head: bytes) -> str | None:
    from ..media.probe import sniff_kind

    fmt = sniff_kind(head)
    return fmt if fmt in VIDEO_FORMATS else None


def _check_whole(path: Path) -> None:
    from ..media.probe import MediaError, probe

    try:
        probe(path)
    except MediaError as exc:
        raise _Retry(f"the downloaded video is incomplete ({exc})") from None


def _declared_length(response: httpx.Response) -> int | None:
    try:
        value = int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None
    return value if value >= 0 else None


def _describe_http_error(exc: httpx.HTTPError) -> str:
    kind = type(exc).__name__
    return f"{kind}: {exc}" if str(exc) else kind


def _create_exclusive(path: Path) -> Any:
    # O_EXCL (no following a planted symlink, no sharing with another writer); O_NOFOLLOW where it exists.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o644), "wb")


def _write_and_sync(out: Any, data: bytes) -> None:
    out.write(data)
    out.flush()
    os.fsync(out.fileno())


def _commit(tmp: Path, target: Path) -> None:
    """Rename into place (replacing an earlier copy of the same job), then make the rename durable."""
    os.replace(tmp, target)
    if hasattr(os, "O_DIRECTORY"):  # POSIX: fsync the folder so the new name survives a power cut
        with contextlib.suppress(OSError):
            fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


async def _nothing_to_confirm() -> None:
    return None


def _saved_whole(target: Path) -> tuple[str, int] | None:
    """The digest and size of a whole video already at `target` (a regular file, not a link), else None."""
    try:
        if not target.is_file() or target.is_symlink():
            return None
        _check_whole(target)
    except (OSError, _Retry):
        return None
    digest = hashlib.sha256()
    size = 0
    with target.open("rb") as video:
        while chunk := video.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _folder_error(folder: Path, exc: OSError) -> ConfigError:
    reason = exc.strerror or type(exc).__name__
    return ConfigError(
        f"could not save the video in {folder} ({reason}). Free some space or point SEEDANCE_OUTPUT_DIR "
        "at a writable folder; the video is still at its URL for now, and the server tries again."
    )
