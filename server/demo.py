"""`seedance-mcp demo`: one generation end to end, through the real MCP tool path, with a progress bar.

It connects an MCP client to the server in-process and calls `generate_video`, then `check_status`
until the job ends — exactly what an assistant does — and prints where the video is.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

import anyio

from seedance_mcp.server.config import Settings

BAR_WIDTH = 30


def run_demo(settings: Settings, prompt: str, *, duration: str, resolution: str, aspect_ratio: str) -> int:
    return anyio.run(_demo, settings, prompt, duration, resolution, aspect_ratio)


async def _demo(settings: Settings, prompt: str, duration: str, resolution: str, aspect_ratio: str) -> int:
    from mcp.client import Client

    from seedance_mcp.server.app import create_server

    out = sys.stdout
    provider = settings.provider
    label = "the offline simulator (no API key set; nothing is charged)" if settings.simulated else provider
    print(f"seedance-mcp demo on {label}", file=out)
    print(f"Prompt: {prompt}", file=out)
    started = time.monotonic()
    width = min(shutil.get_terminal_size((80, 20)).columns, 120)

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        fraction = progress / (total or 100.0)
        filled = int(BAR_WIDTH * fraction)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        line = f"\r[{bar}] {fraction:4.0%} {time.monotonic() - started:5.1f}s {message or ''}"
        out.write(line[:width].ljust(width))
        out.flush()

    async with Client(create_server(settings)) as client:
        arguments: dict[str, Any] = {
            "prompt": prompt,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
            "wait_seconds": 600,
        }
        result = await client.call_tool("generate_video", arguments, progress_callback=progress)
        while not result.is_error and result.structured_content and not result.structured_content["done"]:
            job_id = result.structured_content["job_id"]
            result = await client.call_tool(
                "check_status", {"job_id": job_id, "wait_seconds": 600}, progress_callback=progress
            )
    out.write("\n")
    text = "\n".join(block.text for block in result.content if block.type == "text")
    print(text, file=out)
    if result.is_error or not result.structured_content:
        return 1
    data = result.structured_content
    print(f"\nVideo URL:  {data['video_url']}\nSaved file: {data['video_path']}", file=out)
    if settings.simulated:
        print("(The simulator's URL worked only while the demo ran; the saved file stays.)", file=out)
    return 0 if data["state"] == "completed" else 1
