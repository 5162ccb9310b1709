"""Validation time: 12 local reference files (6 images, 3 videos, 3 audio) checked, median of runs.

`tools.inputs.check_references` as reference_video calls it: counts, @references, allowed folders,
content sniffing and header probing of every file; nothing is uploaded. The baseline, measured in
the same run, is reading the same 12 files from start to end (what a client that uploads them
blindly does before it learns anything about them).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
from _common import ROOT, bench_folder, figure, median, note

sys.path.insert(0, str(ROOT / "tests"))
RUNS = 15


def make_files(folder: Path) -> tuple[list[str], list[str], list[str]]:
    from media_factory import make_audio, make_image, make_video

    images = [str(make_image(folder / f"ref{i}.jpg", width=1280, height=720)) for i in range(6)]
    videos = [
        str(make_video(folder / f"clip{i}.mp4", width=1280, height=720, seconds=5.0, fps=24, audio=True))
        for i in range(3)
    ]
    audios = [str(make_audio(folder / f"voice{i}.wav", seconds=5.0, sample_rate=48000)) for i in range(3)]
    return images, videos, audios


def read_all(paths: list[str]) -> None:
    for path in paths:
        Path(path).read_bytes()


async def measure(folder: Path) -> tuple[list[float], list[float]]:
    from seedance_mcp.server.inputs import check_references

    images, videos, audios = make_files(folder)
    prompt = "@Image1 walks through @Video1 while @Audio1 plays"
    checks, reads = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        checked = await check_references(prompt, images, videos, audios, allowed_dirs=[folder])
        checks.append(time.perf_counter() - started)
        assert len(checked.inputs) == 12
        started = time.perf_counter()
        await anyio.to_thread.run_sync(read_all, [*images, *videos, *audios])
        reads.append(time.perf_counter() - started)
    return checks, reads


def main() -> None:
    folder = bench_folder("seedance-bench-validate-")
    checks, reads = anyio.run(measure, folder)
    size = sum(p.stat().st_size for p in folder.iterdir())
    note(f"12 files, {size / 1e6:.1f} MB; runs (ms): {[round(c * 1000, 1) for c in checks]}")
    figure("validation_12_files_median", median(checks) * 1000, "ms", "< 100 ms")
    figure("validation_read_12_files_median", median(reads) * 1000, "ms", "baseline")


if __name__ == "__main__":
    sys.exit(main())
