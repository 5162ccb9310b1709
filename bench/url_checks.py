"""URL checking time: 12 URL inputs (6 images, 3 videos, 3 audio) served on loopback, median of runs.

`seedance_mcp.server.inputs.check_references` as reference_video calls it on the simulator (loopback allowed):
for every URL at once, a ranged GET of the header bytes, then the container's index through ranged
reads (duration, resolution), the image's tail for its end marker; nothing is uploaded. The server is
the tests' ranged file server (`tests/media_server.py`, threaded stdlib HTTP) in its own process. The
bytes read are counted in tests/test_inputs_urls.py. The baseline, in the
same run, is checking the same 12 media as local files (probe and full image decode), so the figure
says what going over HTTP adds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
from _common import ROOT, bench_folder, figure, median, note

sys.path.insert(0, str(ROOT / "tests"))
RUNS = 15


def make_files(folder: Path) -> tuple[list[str], list[str], list[str]]:
    from media_factory import make_audio, make_image, make_video

    images = [
        str(make_image(folder / f"ref{i}.{fmt}", fmt, width=1280, height=720, noise=True))
        for i, fmt in enumerate(["jpeg", "png", "webp"] * 2)
    ]
    videos = [
        str(make_video(folder / f"clip{i}.mp4", width=1280, height=720, seconds=4.0, fps=24, audio=True))
        for i in range(3)
    ]
    audios = [str(make_audio(folder / f"voice{i}.wav", seconds=4.0, sample_rate=48000)) for i in range(3)]
    return images, videos, audios


@contextmanager
def media_server(folder: Path) -> Iterator[str]:
    """The tests' ranged file server in its own process, as a real host would be."""
    script = ROOT / "tests" / "media_server.py"
    with subprocess.Popen(
        [sys.executable, str(script), str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        try:
            yield proc.stdout.readline().strip()
        finally:
            proc.stdin.close()
            proc.wait(timeout=10)


async def measure(folder: Path) -> tuple[list[float], list[float]]:
    from seedance_mcp.server.inputs import check_references
    from seedance_mcp.server.media.remote import UrlPolicy

    images, videos, audios = make_files(folder)
    policy = UrlPolicy(allow_loopback=True)
    prompt = "@Image1 walks through @Video1 while @Audio1 plays"
    by_url, local = [], []
    with media_server(folder) as base:

        def as_urls(paths: list[str]) -> list[str]:
            return [f"{base}/{Path(p).name}" for p in paths]

        urls = as_urls(images), as_urls(videos), as_urls(audios)
        for _ in range(RUNS):
            started = time.perf_counter()
            checked = await check_references(prompt, *urls, allowed_dirs=(), urls=policy)
            by_url.append(time.perf_counter() - started)
            assert all(i.info is not None for i in checked.inputs) and not [
                w for w in checked.warnings if "could not be fully checked" in w
            ]
            started = time.perf_counter()
            checked = await check_references(prompt, images, videos, audios, allowed_dirs=[folder])
            local.append(time.perf_counter() - started)
            assert len(checked.inputs) == 12
    return by_url, local


def main() -> None:
    folder = bench_folder("seedance-bench-urls-")
    by_url, local = anyio.run(measure, folder)
    size = sum(p.stat().st_size for p in folder.iterdir())
    note(f"12 files, {size / 1e6:.1f} MB")
    note(f"runs over HTTP (ms): {[round(c * 1000, 1) for c in by_url]}")
    figure("url_checks_12_urls_median", median(by_url) * 1000, "ms", "< 1000 ms on loopback")
    figure("url_checks_12_local_files_median", median(local) * 1000, "ms", "baseline")


if __name__ == "__main__":
    sys.exit(main())
