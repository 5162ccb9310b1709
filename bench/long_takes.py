"""The simulator's render cost for the longest and largest takes it now serves (Seedance 2.5: 30 s at
1080p), in CPU seconds of this process, median of runs.

The baseline, measured in the same run, is the take every test renders: 4 s at 480p (drawn at
24 fps). Long or large takes are drawn at a lower frame rate within a frame budget (see
`server/simulator/render.py`), so they should cost a small multiple of it, not the 22× the frame count
at 24 fps would.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import figure, median, note

from seedance_mcp.server.simulator.render import RenderSpec, render_mp4

RUNS = 3
TAKES = {
    "baseline_4s_480p": RenderSpec("bench: the tests' take", 864, 496, 4, True),
    "30s_720p": RenderSpec("bench: a long take", 1280, 720, 30, True),
    "30s_1080p": RenderSpec("bench: a long, large take", 1920, 1080, 30, True),
}


def cpu_seconds(spec: RenderSpec, folder: Path) -> float:
    started = time.process_time()
    render_mp4(spec, folder / "take.mp4")
    return time.process_time() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-long-takes-") as tmp:
        samples: dict[str, list[float]] = {name: [] for name in TAKES}
        for _ in range(RUNS):  # interleaved, so a busy moment hits every take alike
            for name, spec in TAKES.items():
                samples[name].append(cpu_seconds(spec, Path(tmp)))
    note(f"samples (CPU s): {samples}")
    baseline = median(samples["baseline_4s_480p"])
    figure("render_cpu_baseline_4s_480p", baseline, "s", "baseline")
    for name in ("30s_720p", "30s_1080p"):
        spec = TAKES[name]
        figure(f"render_cpu_{name}", median(samples[name]), "s", f"drawn at {spec.fps} fps")
        figure(f"render_cpu_ratio_{name}", median(samples[name]) / baseline, "× baseline", "≤ 3")


if __name__ == "__main__":
    main()
