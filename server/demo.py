"""`seedance-mcp demo`: one generation end to end, through the real MCP tool path, with a progress bar.

It connects an MCP client to the server in-process and calls `generate_video`, then `check_status`
until the job ends — exactly what an assistant does — and prints, for a person, what was made and where.

The bar moves with the time elapsed against the time a job is expected to take (the provider's own
progress, when it reports more, wins), redrawn in place on a terminal; elsewhere (a pipe, a CI log) it
prints one line per change instead.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO

import anyio

from .config import Settings

BAR_WIDTH = 30
REDRAW_SECONDS = 0.5
# When not on a terminal, a new line only when the bar moved this much (or the status changed).
LOG_STEP = 0.1
# Seconds a real Seedance job takes, roughly: fal's queue plus rendering, longer for longer clips.
REAL_BASE_SECONDS = 60.0
REAL_SECONDS_PER_OUTPUT_SECOND = 12.0


def expected_seconds(settings: Settings, duration: str) -> float:
    """How long the demo's job should take, to move the bar by; an estimate, never a promise."""
    if settings.simulated:
        return settings.sim_queue_seconds + settings.sim_run_seconds + 1.0  # + saving the file
    seconds = 15 if duration == "auto" else int(duration)
    return REAL_BASE_SECONDS + REAL_SECONDS_PER_OUTPUT_SECOND * seconds


class ProgressBar:
    """Elapsed time against the expected time, never past 99 % before the job ends."""

    def __init__(self, out: TextIO, expected: float, *, terminal: bool) -> None:
        self.out, self.expected, self.terminal = out, expected, terminal
        self.started = time.monotonic()
        self.reported = 0.0  # the provider's own fraction, when it sends one
        self.status = "submitting"
        self._last_logged: tuple[int, str] | None = None

    def update(self, progress: float, total: float | None, message: str | None) -> None:
        self.reported = max(self.reported, progress / (total or 100.0))
        if message:
            self.status = message
        self.draw()

    def fraction(self) -> float:
        elapsed = time.monotonic() - self.started
        return min(0.99, max(self.reported, elapsed / self.expected))

    def draw(self, final: float | None = None) -> None:
        fraction = self.fraction() if final is None else final
        filled = int(BAR_WIDTH * fraction)
        elapsed = time.monotonic() - self.started
        line = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} "
            f"{elapsed:5.1f}s of ~{self.expected:.0f}s  {self.status}"
        )
        if self.terminal:
            width = min(shutil.get_terminal_size((80, 20)).columns, 120) - 1
            self.out.write("\r" + line[:width].ljust(width))
        else:
            step = round(fraction / LOG_STEP)
            if self._last_logged == (step, self.status) and final is None:
                return
            self._last_logged = (step, self.status)
            self.out.write(line + "\n")
        self.out.flush()

    def finish(self, succeeded: bool) -> None:
        self.draw(final=1.0 if succeeded else self.fraction())
        if self.terminal:
            self.out.write("\n")


def run_demo(settings: Settings, prompt: str, *, duration: str, resolution: str, aspect_ratio: str) -> int:
    return anyio.run(_demo, settings, prompt, duration, resolution, aspect_ratio)


async def _demo(settings: Settings, prompt: str, duration: str, resolution: str, aspect_ratio: str) -> int:
    from mcp.client import Client

    from .app import create_server

    out = sys.stdout
    label = (
        "the offline simulator (no API key set; nothing is charged)"
        if settings.simulated
        else settings.provider
    )
    print(f"seedance-mcp demo on {label}", file=out)
    print(f"Prompt: {prompt}", file=out)
    print(f"Asking for {duration} s at {resolution}, {aspect_ratio}.", file=out)
    bar = ProgressBar(out, expected_seconds(settings, duration), terminal=out.isatty())

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        bar.update(progress, total, message)

    async def tick() -> None:
        while True:
            await anyio.sleep(REDRAW_SECONDS)
            bar.draw()

    async with Client(create_server(settings)) as client, anyio.create_task_group() as tg:
        tg.start_soon(tick)
        arguments: dict[str, Any] = {
            "prompt": prompt,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
            "wait_seconds": 600,
        }
        result = await client.call_tool("generate_video", arguments, progress_callback=on_progress)
        while not result.is_error and result.structured_content and not result.structured_content["done"]:
            job_id = result.structured_content["job_id"]
            result = await client.call_tool(
                "check_status", {"job_id": job_id, "wait_seconds": 600}, progress_callback=on_progress
            )
        tg.cancel_scope.cancel()
    data = result.structured_content or {}
    succeeded = not result.is_error and data.get("state") == "completed"
    bar.finish(succeeded)
    if result.is_error or not data:
        text = " ".join(block.text for block in result.content if block.type == "text")
        print(f"\nFailed: {text}", file=out)
        return 1
    print(f"\nState:      {data['state']} after {data['elapsed_seconds']:.1f} s", file=out)
    print(f"Cost:       {data['cost_note']}", file=out)
    if data.get("error"):
        print(f"Problem:    {data['error']}", file=out)
    if data.get("video_path"):
        print(f"Saved file: {data['video_path']}", file=out)
    if data.get("video_url"):
        print(f"Video URL:  {data['video_url']}", file=out)
    if settings.simulated:
        print("The simulator's URL worked only while the demo ran; the saved file stays.", file=out)
        print("Set FAL_KEY (or OXEN_API_KEY) and run the demo again for a real video.", file=out)
    return 0 if succeeded else 1
