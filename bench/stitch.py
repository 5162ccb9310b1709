"""Stitching: wall time and peak RSS for ten 15 s 720p clips, against two clips in the same run.

The clips are real H.264 + AAC files from the simulator's renderer (two distinct renders, copied to
make ten files; each copy is opened and decoded on its own like any clip). Every stitch runs in a
fresh subprocess that imports everything first and then reports its wall time and how far its peak
RSS rose above its RSS just before stitching. Memory flat in the number of clips means the ten-clip
figure stays near the two-clip one; "well under real time" means film seconds per wall second > 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import PYTHON, ROOT, bench_folder, figure, note, proc_status_mb

SECONDS = 15
CLIPS = 10


def child(folder: str, count: str, crossfade: str) -> None:
    import av  # noqa: F401  (imported before measuring: the libraries are not the stitch's memory)
    import PIL.Image  # noqa: F401

    from seedance_mcp.server.film.stitch import ClipInput, stitch

    clips = [ClipInput(path, f"clips[{i}]") for i, path in enumerate(sorted(Path(folder).glob("clip-*.mp4")))]
    clips = clips[: int(count)]
    before = proc_status_mb("VmRSS")
    started = time.perf_counter()
    film = stitch(clips, Path(folder) / f"film-{count}.mp4", crossfade=float(crossfade))
    wall = time.perf_counter() - started
    print(
        json.dumps({"before": before, "peak": proc_status_mb("VmHWM"), "wall": wall, "seconds": film.seconds})
    )


def run_child(folder: Path, count: int, crossfade: float = 0.0) -> dict[str, float]:
    out = subprocess.run(
        [PYTHON, __file__, "--child", str(folder), str(count), str(crossfade)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    data: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    from seedance_mcp.server.simulator.render import RenderSpec, render_mp4

    folder = bench_folder("seedance-bench-stitch-")
    started = time.perf_counter()
    takes = []
    for i, prompt in enumerate(("A kite over a beach at noon", "The kite drifts out to sea at dusk")):
        take = folder / f"take-{i}.mp4"
        render_mp4(RenderSpec(prompt, 1280, 720, SECONDS, True), take)
        takes.append(take)
    for i in range(CLIPS):
        shutil.copyfile(takes[i % 2], folder / f"clip-{i:02d}.mp4")
    note(f"rendered 2 clips of {SECONDS} s at 1280x720 in {time.perf_counter() - started:.0f} s")

    two = run_child(folder, 2)
    ten = run_child(folder, CLIPS)
    faded = run_child(folder, CLIPS, crossfade=1.0)
    for name, run in (("2 clips", two), ("10 clips", ten), ("10 clips, 1 s crossfades", faded)):
        note(f"{name}: {json.dumps(run)}")
    for label, run in (("2x15s", two), ("10x15s", ten), ("10x15s_crossfade_1s", faded)):
        figure(f"stitch_{label}_720p_wall", run["wall"], "s")
        figure(f"stitch_{label}_720p_realtime", run["seconds"] / run["wall"], "x real time", "> 1")
        figure(f"stitch_{label}_720p_peak_rss_growth", run["peak"] - run["before"], "MB")
    ratio = (ten["peak"] - ten["before"]) / max(1.0, two["peak"] - two["before"])
    figure("stitch_peak_rss_growth_ratio_10_vs_2_clips", ratio, "x", "about 1: flat in clips")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, str(ROOT))
        child(*sys.argv[2:5])
    else:
        sys.exit(main())
