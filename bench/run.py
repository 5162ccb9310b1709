"""Run every benchmark, each in its own process, and print every figure.

    .venv/bin/python bench/run.py            # all of them (a few minutes)
    .venv/bin/python bench/run.py cold_start # just the ones named

Each benchmark prints `name: value unit (goal ...)` lines on stdout and notes on stderr; this
script passes both through and ends with the figures together, plus the date and the machine.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "cold_start",
    "completion",
    "requests_per_job",
    "concurrency",
    "thousand_jobs",
    "upload_memory",
    "validation",
    "processes",
    "url_checks",
    "stitch",
    "long_takes",
)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


def main(names: list[str]) -> int:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
        return 2
    figures: list[str] = []
    failed: list[str] = []
    started = time.monotonic()
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        begun = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(HERE / f"{name}.py")], stdout=subprocess.PIPE, text=True, cwd=HERE.parent
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if ": " in line and not line.startswith(" "):
                figures.append(line.rstrip("\n"))
        if proc.wait() != 0:
            failed.append(name)
        print(f"   ({time.monotonic() - begun:.0f} s)", flush=True)
    print()
    print(f"== figures, {datetime.date.today().isoformat()}, {machine()}")
    for line in figures:
        print(line)
    print(f"total {time.monotonic() - started:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
