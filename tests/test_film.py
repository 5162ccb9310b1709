"""Films longer than one clip, on the simulator through a real MCP client: a shot continued from the
last frame of another, shots stitched into one MP4, a film priced as a whole, and the refusals.

Continuity is measured, not assumed: the mean absolute difference of RGB values (0-255) between the
first video's last frame and the second video's first frame, against the same measure between two
frames that should differ.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from PIL import Image, ImageChops, ImageStat

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.media_factory import make_image, make_text, make_video
from tests.test_guard import Asker, sent

pytestmark = pytest.mark.anyio

# Mean |ΔRGB| of one picture through two H.264 encodes measured 1.35; the simulator's first frames of two
# different prompts (similar gradients, different text) 4.3.
SAME_PICTURE = 2.0


def frames(path: Path) -> tuple[Image.Image, Image.Image, int]:
    """(first frame, last frame, frame count) of a video, decoded."""
    import av

    first = last = None
    count = 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_image()
            first = first or image
            last = image
            count += 1
    assert first is not None and last is not None
    return first, last, count


def difference(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def streams(path: Path) -> tuple[list[str], float, float | None]:
    """(stream kinds, video seconds, audio seconds) after decoding every packet, so the file must play."""
    import av

    with av.open(str(path)) as container:
        kinds = [s.type for s in container.streams]
        video_end = audio_end = 0.0
        for frame in container.decode(*container.streams):
            end = float(frame.pts * frame.time_base)
            if isinstance(frame, av.AudioFrame):
                audio_end = max(audio_end, end + frame.samples / frame.sample_rate)
            else:
                video_end = max(video_end, end)
        rate = container.streams.video[0].average_rate
        assert rate is not None
        return kinds, video_end + float(1 / rate), audio_end if container.streams.audio else None


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    with anyio.fail_after(240):
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    data = result.structured_content
    data["_text"] = result.content[0].text  # type: ignore[union-attr]
    return data


async def refusal(client: Client, tool: str, **arguments: Any) -> str:
    with anyio.fail_after(120):
        result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content
    return result.content[0].text  # type: ignore[union-attr]


@pytest.mark.slow
async def test_a_continued_shot_starts_on_the_last_frame_and_both_stitch_into_one_film(
    settings: Settings,
) -> None:
    progress: list[tuple[float, float | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    async with Client(create_server(settings)) as client:
        shot = {"duration": "4", "resolution": "720p", "aspect_ratio": "16:9", "wait_seconds": 200}
        one = await call(client, "generate_video", prompt="A red kite rises over a beach", **shot)
        two = await call(
            client,
            "generate_video",
            prompt="The kite string snaps and the kite drifts out to sea",
            continue_from=one["job_id"],
            **shot,
        )
        with anyio.fail_after(240):
            stitched = await client.call_tool(
                "stitch_videos", {"clips": [one["job_id"], two["job_id"]]}, progress_callback=on_progress
            )
        assert not stitched.is_error, stitched.content
        film: dict[str, Any] = stitched.structured_content or {}

    assert one["state"] == two["state"] == "completed"
    assert two["mode"] == "image-to-video"
    note = f"start frame: last frame (t=3.96 s) of job {one['job_id']}"
    assert two["notes"] == [note]
    assert two["_text"].startswith("Start frame: last frame (t=3.96 s)")

    first_of_one, last_of_one, _ = frames(Path(one["video_path"]))
    first_of_two, _, _ = frames(Path(two["video_path"]))
    assert difference(last_of_one, first_of_two) < SAME_PICTURE
    assert difference(first_of_one, first_of_two) > SAME_PICTURE  # the measure tells two shots apart

    path = Path(film["film_path"])
    assert path.parent == settings.output_dir.resolve()
    assert film["cost_usd"] == 0 and "nothing charged" in stitched.content[0].text  # type: ignore[union-attr]
    kinds, video_seconds, audio_seconds = streams(path)
    assert sorted(kinds) == ["audio", "video"]
    assert abs(video_seconds - 8.0) < 0.05
    assert audio_seconds is not None and abs(audio_seconds - 8.0) < 0.1
    assert film["video"]["width"] == 1280 and film["video"]["height"] == 720
    assert [c["label"] for c in film["clips"]] == [f"job {one['job_id']}", f"job {two['job_id']}"]
    # The join shows the end of one and the start of the next: frame 95 is shot 1's last, 96 shot 2's first.
    _, _, count = frames(path)
    assert count == 192
    assert any(isinstance(b, type(stitched.content[-1])) and b.type == "image" for b in stitched.content)
    assert progress and progress[-1][0] == progress[-1][1] == 192


@pytest.mark.slow
async def test_clips_of_other_shapes_rates_and_no_audio_stitch_with_a_crossfade(
    settings: Settings, isolated_env: Path
) -> None:
    media = isolated_env / "media"
    square = make_video(media / "square.mp4", 640, 640, 2.0, fps=12, audio=True)
    wide = make_video(media / "wide.mov", 1280, 720, 2.0, fps=24, audio=False, container="mov")
    async with Client(create_server(settings)) as client:
        film = await call(
            client,
            "stitch_videos",
            clips=[str(square), str(wide)],
            aspect_ratio="16:9",
            crossfade_seconds=0.5,
            title="Shapes",
        )
        again = await call(
            client,
            "stitch_videos",
            clips=[str(square), str(wide)],
            aspect_ratio="16:9",
            crossfade_seconds=0.5,
            title="Shapes",
        )
    path = Path(film["film_path"])
    assert path.name.endswith("_shapes.mp4")
    assert again["film_path"] == film["film_path"] and again["reused"] and not film["reused"]
    # 16:9 at the documented size closest to the first clip's 640x640: 480p's 864x496.
    assert (film["video"]["width"], film["video"]["height"]) == (864, 496)
    kinds, video_seconds, audio_seconds = streams(path)
    assert sorted(kinds) == ["audio", "video"]
    assert abs(video_seconds - 3.5) < 0.05  # 2 s + 2 s - 0.5 s of crossfade, at the first clip's 12 fps
    assert audio_seconds is not None and abs(audio_seconds - 3.5) < 0.1
    first, last, count = frames(path)
    assert count == 42
    # The square clip is pillarboxed: black at the sides, its own colour (R=0 at its start) in the middle.
    assert first.getpixel((10, 248)) == pytest.approx((0, 0, 0), abs=20)  # type: ignore[arg-type]
    assert first.getpixel((432, 248)) == pytest.approx((0, 90, 160), abs=20)  # type: ignore[arg-type]
    # The wide clip fills the frame to its edge and ends on its last colour (R=255).
    assert last.getpixel((10, 248)) == pytest.approx((255, 90, 160), abs=20)  # type: ignore[arg-type]


async def test_unknown_unfinished_and_non_video_clips_are_refused_naming_the_field(
    settings: Settings, isolated_env: Path
) -> None:
    media = isolated_env / "media"
    clip = make_video(media / "clip.mp4", 640, 640, 2.0)
    picture = make_image(media / "still.png", "png")
    notes = make_text(media / "notes.mp4")
    async with Client(create_server(settings)) as client:
        text = await refusal(client, "stitch_videos", clips=[str(clip), "sd_doesnotexist"])
        assert "clips[1]" in text and "no job with id 'sd_doesnotexist'" in text

        text = await refusal(client, "stitch_videos", clips=[str(clip), str(picture)])
        assert "clips[1]" in text and "PNG image, not a video" in text
        assert "not a video; give an MP4 or MOV file" in text  # and its fix

        text = await refusal(client, "stitch_videos", clips=[str(notes), str(clip)])
        assert "clips[0]" in text and "not a usable video" in text

        text = await refusal(client, "stitch_videos", clips=[str(clip)])
        assert "clips" in text and "at least 2" in text

        text = await refusal(client, "stitch_videos", clips=[str(clip), str(clip)], crossfade_seconds=1.5)
        assert "crossfade_seconds" in text

        pending = await call(client, "generate_video", prompt="A slow sunrise", duration="4", wait_seconds=0)
        assert not pending["done"]
        text = await refusal(client, "stitch_videos", clips=[pending["job_id"], str(clip)])
        assert "clips[0]" in text and "has not finished" in text and "check_status" in text
        text = await refusal(client, "generate_video", prompt="Next", continue_from=pending["job_id"])
        assert "continue_from: " in text and "has not finished" in text

        text = await refusal(client, "generate_video", prompt="Next", continue_from="sd_doesnotexist")
        assert "continue_from: " in text and "no job with id" in text
        text = await refusal(client, "generate_video", prompt="Next", continue_from=str(picture))
        assert "continue_from: " in text and "not a video" in text
        text = await refusal(
            client, "generate_video", prompt="Next", continue_from=str(clip), image_url=str(picture)
        )
        assert "continue_from: " in text and "image_url" in text
        outside = make_video(isolated_env.parent / "outside.mp4", 640, 640, 2.0)
        text = await refusal(client, "generate_video", prompt="Next", continue_from=str(outside))
        assert "continue_from: " in text and "outside the folders" in text


@pytest.mark.slow
async def test_a_local_clip_continues_through_reference_video_as_its_last_image(
    settings: Settings, isolated_env: Path
) -> None:
    clip = make_video(isolated_env / "media" / "take.mp4", 640, 640, 2.0, fps=8)
    async with Client(create_server(settings)) as client:
        answer = await call(
            client,
            "reference_video",
            prompt="The scene from @Image1 continues at night",
            continue_from=str(clip),
            duration="4",
            resolution="480p",
            wait_seconds=120,
        )
    assert answer["state"] == "completed"
    assert answer["notes"] == ["@Image1 is the last frame (t=1.88 s) of take.mp4"]


@pytest.mark.slow
async def test_the_simulator_starts_on_the_start_frame_and_ends_on_the_end_frame(
    settings: Settings, isolated_env: Path
) -> None:
    start, end = isolated_env / "media" / "start.png", isolated_env / "media" / "end.png"
    Image.new("RGB", (1280, 720), (200, 40, 40)).save(start)
    Image.new("RGB", (1280, 720), (30, 60, 220)).save(end)
    async with Client(create_server(settings)) as client:
        answer = await call(
            client,
            "generate_video",
            prompt="Red turns to blue",
            image_url=str(start),
            end_image_url=str(end),
            duration="4",
            resolution="480p",
            wait_seconds=120,
        )
    first, last, _ = frames(Path(answer["video_path"]))
    assert first.size == (864, 496)  # "auto" took the start frame's 16:9
    assert difference(first, Image.new("RGB", first.size, (200, 40, 40))) < SAME_PICTURE
    assert difference(last, Image.new("RGB", last.size, (30, 60, 220))) < SAME_PICTURE


async def test_a_film_is_priced_shot_by_shot_with_its_total(settings: Settings, isolated_env: Path) -> None:
    async with Client(create_server(settings)) as client:
        film = await call(
            client,
            "estimate_cost",
            resolution="720p",
            aspect_ratio="16:9",
            tier="fast",
            shots=[
                {"prompt": "Shot 1", "duration": "5"},
                {"prompt": "Shot 2", "duration": "10", "tier": "standard", "continue_from": "sd_later"},
                {"prompt": "Shot 3", "duration": "4", "resolution": "480p"},
            ],
        )
        ranged = await call(
            client, "estimate_cost", aspect_ratio="16:9", shots=[{"duration": "5"}, {"duration": "auto"}]
        )
        bad = make_text(isolated_env / "media" / "bad.mp4")
        text = await refusal(
            client,
            "estimate_cost",
            shots=[{"duration": "5"}, {"video_urls": [str(bad)], "image_urls": [str(bad)]}],
        )
        text_top = await refusal(client, "estimate_cost", image_url="https://example.com/a.png", shots=[{}])
    # 1280x720x5x24/1024 = 108,000 tokens x $0.0112/1k; twice the seconds at $0.014/1k;
    # 864x496x4x24/1024 = 40,176 tokens x $0.0112/1k
    prices = [shot["usd"] for shot in film["shots"]]
    assert prices == [1.2096, 3.024, 0.45]
    assert film["usd"] == film["min_usd"] == film["max_usd"] == pytest.approx(4.6836)
    assert film["tier"] == "mixed" and film["resolution"] == "mixed" and film["usd_per_1k_tokens"] is None
    assert film["output_seconds"] == [19, 19] and film["mode"] == "film of 3 shots"
    assert film["shots"][1]["mode"] == "image-to-video"
    assert ranged["is_range"] and ranged["usd"] is None and ranged["shots"][0]["usd"] is not None
    assert ranged["min_usd"] < ranged["max_usd"]
    assert "shots[1].image_urls[0]: " in text
    assert ": image_url: " in text_top


async def test_a_finished_job_without_a_saved_video_is_refused_naming_the_field(
    settings: Settings, isolated_env: Path
) -> None:
    from seedance_mcp.server.journal.sqlite import JobRecord, Journal

    now = time.time()
    gone = isolated_env / "media" / "moved.mp4"
    async with await Journal.open(settings.home / "journal.sqlite3") as journal:
        for job_id, path in (("sd_notsaved0001", None), ("sd_moved0000001", str(gone))):
            await journal.create(
                JobRecord(
                    id=job_id,
                    created_at=now,
                    updated_at=now,
                    provider="fal",
                    simulated=True,
                    tool="generate_video",
                    tier="fast",
                    mode="text-to-video",
                    endpoint="bytedance/seedance-2.0/fast/text-to-video",
                    arguments={"prompt": "A shot"},
                    estimate={},
                    estimate_usd=0.0,
                    state="completed",
                    result_url="https://example.com/video.mp4",
                    video_path=path,
                    saved=path is not None,
                    save_error=None if path else "could not save the video (disk full)",
                    finished_at=now,
                )
            )
    clip = make_video(isolated_env / "media" / "clip.mp4", 640, 640, 2.0)
    async with Client(create_server(settings)) as client:
        text = await refusal(client, "stitch_videos", clips=[str(clip), "sd_notsaved0001"])
        assert "clips[1]" in text and "was not saved" in text and "disk full" in text
        text = await refusal(client, "generate_video", prompt="Next", continue_from="sd_moved0000001")
        assert "continue_from: " in text and "no longer at" in text


async def test_a_continued_shot_is_confirmed_as_image_to_video_and_declining_spends_nothing(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_video(isolated_env / "media" / "clip.mp4", 640, 640, 2.0)
    asker = Asker("decline")
    # The simulator as fal itself (a key set), so its request log shows what was uploaded or submitted.
    with Simulator(SimulatorOptions(queue_seconds=0.3, run_seconds=1.0)) as sim:
        monkeypatch.setenv("FAL_KEY", "sim-test-key")
        monkeypatch.setenv("SEEDANCE_CONFIRM_ABOVE_USD", "1")
        for name in ("QUEUE", "REST", "CDN"):
            monkeypatch.setenv(f"SEEDANCE_FAL_{name}_URL", sim.url)
        async with Client(create_server(Settings.from_env()), elicitation_callback=asker) as client:
            text = await refusal(
                client,
                "generate_video",
                prompt="Next",
                continue_from=str(clip),
                resolution="720p",
                duration="5",
                aspect_ratio="16:9",
            )
        assert sent(sim) == []
    assert "declined" in text
    assert len(asker.questions) == 1
    assert "image-to-video from your start frame" in asker.questions[0].message


def test_a_stopped_stitch_leaves_no_file_behind(isolated_env: Path) -> None:
    import threading

    from seedance_mcp.server.film.stitch import ClipInput, StitchCancelled, stitch

    media = isolated_env / "media"
    clips = [ClipInput(make_video(media / f"c{i}.mp4", 640, 640, 2.0, fps=12), f"clips[{i}]") for i in (0, 1)]
    stop = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        stop.set()  # as the tool does when the host cancels the call

    target = isolated_env / "out" / "film.mp4"
    target.parent.mkdir()
    with pytest.raises(StitchCancelled):
        stitch(clips, target, progress=progress, stop=stop)
    assert seen == [12]  # one second of film was written before the stop was seen
    assert list(target.parent.iterdir()) == []


def test_a_simulated_continuation_covers_the_first_clips_text_with_its_own(tmp_path: Path) -> None:
    """The start frame of a continued simulated clip carries the first clip's prompt and counter: the
    new clip's text bands cover them, so its top and bottom look as on any other picture."""
    from seedance_mcp.server.simulator.render import RenderSpec, render_mp4

    size = {"width": 640, "height": 360, "seconds": 1, "audio": False}
    first = tmp_path / "first.mp4"
    render_mp4(RenderSpec(prompt="A red kite rises over a beach, " * 6, **size), first)  # five lines of text
    _, last_of_first, _ = frames(first)
    last_of_first.save(tmp_path / "last.png")
    Image.new("RGB", (640, 360), (120, 150, 90)).save(tmp_path / "plain.png")

    def middle_frame(start: str) -> Image.Image:
        out = tmp_path / f"from-{start}.mp4"
        render_mp4(RenderSpec(prompt="The kite drifts out to sea", start_frame=tmp_path / start, **size), out)
        import av

        with av.open(str(out)) as container:
            return [f.to_image() for f in container.decode(video=0)][12]

    continued, on_plain = middle_frame("last.png"), middle_frame("plain.png")
    top, bottom = (0, 0, 640, 150), (0, 324, 640, 360)
    for box in (top, bottom):  # the same text on the same band: the first clip's does not show through
        assert difference(continued.crop(box), on_plain.crop(box)) < SAME_PICTURE, box
    # Between the bands the picture is the start frame's, not a plain one.
    picture = (480, 190, 640, 300)  # clear of both clips' balls
    assert difference(continued.crop(picture), last_of_first.crop(picture)) < SAME_PICTURE
    assert difference(continued.crop(picture), on_plain.crop(picture)) > SAME_PICTURE
