"""Upload memory: peak RSS growth while uploading a 50 MB video, each uploader in a fresh subprocess.

Ours is `FalProvider.upload` (streams the file from disk to fal's CDN); the baseline, in the same
run, is fal's own client (`fal_client.AsyncClient.upload_file`). Both upload to the simulator (its
own process). A child imports everything first, then reports how far its peak RSS rose above its
RSS just before the upload.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _common import BENCH_KEY, PYTHON, ROOT, bench_folder, figure, note, proc_status_mb, simulator_process

SIZE = 50 * 1024 * 1024


async def child_upload(which: str, url: str, path: Path) -> str:
    import httpx

    if which == "ours":
        from seedance_mcp.server.providers.fal import FalProvider

        async with httpx.AsyncClient() as http:
            provider = FalProvider(http, key=BENCH_KEY, queue_url=url, rest_url=url, cdn_url=url)
            before = proc_status_mb("VmRSS")
            access = await provider.upload(path, "video/mp4")
    else:
        import fal_client
        import fal_client.client as fal_impl

        fal_impl.REST_URL = url
        fal_impl.CDN_URL = url
        client = fal_client.AsyncClient(key=BENCH_KEY)
        before = proc_status_mb("VmRSS")
        access = await client.upload_file(path)
        http: httpx.AsyncClient = await client._client
        await http.aclose()
    return json.dumps({"before": before, "peak": proc_status_mb("VmHWM"), "url": access})


def child(which: str, url: str, path: str) -> None:
    import anyio

    print(anyio.run(child_upload, which, url, Path(path)))


def run_child(which: str, url: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [PYTHON, __file__, "--child", which, url, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    data: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    folder = bench_folder("seedance-bench-upload-")
    sys.path.insert(0, str(ROOT / "tests"))
    from media_factory import make_video

    video = make_video(folder / "big.mp4", width=320, height=240, seconds=2.0, pad_to=SIZE)
    with simulator_process(queue_seconds=0.2, run_seconds=0.5) as sim:
        ours = run_child("ours", sim.url, video)
        theirs = run_child("fal_client", sim.url, video)
        uploaded = [e for e in sim.requests() if e.get("kind") == "upload"]
    note(f"uploads logged: {[(e.get('upload'), e.get('bytes')) for e in uploaded]}")
    grow_ours = ours["peak"] - ours["before"]
    grow_theirs = theirs["peak"] - theirs["before"]
    figure("upload_50mb_peak_rss_growth", grow_ours, "MB", "well under the file size")
    figure("upload_50mb_peak_rss_growth_fal_client", grow_theirs, "MB", "baseline")
    figure("upload_50mb_peak_rss", ours["peak"], "MB")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, str(ROOT))
        child(*sys.argv[2:5])
    else:
        sys.exit(main())
