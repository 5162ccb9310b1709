"""Renders the simulator's MP4s: real H.264 (+ AAC) files at the documented size and length.

Every frame shows the prompt, a moving ball, a frame counter and a "SIMULATED" label, so a person
looking at a result can never mistake it for a generated video. The static part of the frame is drawn
once; per frame only the ball, the counter and a progress bar are drawn on a copy.

Image-to-video keeps continuity as the real model does: the first frame is the start image itself
(cropped to fill the output size), and with an end image the picture dissolves into it and the last
frame is the end image. So a shot continued from another one can be checked offline, pixel by pixel.
On a picture the text sits on opaque bands of fixed size: a start frame taken from a simulated clip
carries that clip's prompt and counter, and the bands cover them, so the new clip's are never printed
over the old ones.

Long or large clips are drawn at a lower frame rate (a divisor of 24, never under 2 fps): a render costs
per frame, and a 30 s 1080p take at 24 fps would take the machine a minute. The duration stays exact,
and the picture's info line states the rate.

`Renderer` runs renders in a small thread pool (bounded concurrency) and caches them by
(prompt, size, duration, audio), so repeated identical jobs cost nothing.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import logging
import math
import threading
import time
from array import array
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..background import background_pool

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

FPS = 24
# Pixels × frames one render may draw at most (5 s of 720p at 24 fps, about 1.3 s of work here).
FRAME_BUDGET = 1280 * 720 * 5 * FPS
RATES = (24, 12, 8, 6, 4, 3, 2)  # frame rates a render may use, all dividing 24
AUDIO_RATE = 48_000
TONE_HZ = 240  # divides AUDIO_RATE, so one second of samples repeats seamlessly
LABEL = "SIMULATED — seedance-mcp"
BAND = (18, 18, 28)  # behind the text on a picture: the same everywhere, so nothing beneath shows through
PROMPT_LINES = 5  # the most a prompt takes; a band is as tall as this, whatever this clip's prompt is


class RenderCancelled(Exception):
    """The renderer was shut down while this render was running."""


@dataclass(frozen=True)
class RenderSpec:
    """Everything that changes the rendered file (and therefore the cache key)."""

    prompt: str
    width: int
    height: int
    seconds: int
    audio: bool
    # Local copies of the image-to-video frames; their names identify their content (stored uploads
    # never change), so they can stand in the cache key.
    start_frame: Path | None = None
    end_frame: Path | None = None

    @property
    def fps(self) -> int:
        """The highest rate of `RATES` within `FRAME_BUDGET` for this size and length."""
        pixels = self.width * self.height * max(1, self.seconds)
        return next((r for r in RATES if pixels * r <= FRAME_BUDGET), RATES[-1])

    @property
    def key(self) -> str:
        raw = f"{self.prompt}\0{self.width}x{self.height}\0{self.seconds}\0{int(self.audio)}"
        raw += f"\0{self.start_frame or ''}\0{self.end_frame or ''}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


def render_mp4(spec: RenderSpec, path: Path, stop: threading.Event | None = None) -> None:
    """Write `spec` as an MP4 to `path` (blocking; meant for a worker thread)."""
    import av
    from PIL import ImageDraw

    start = _fitted(spec.start_frame, spec)
    end = _fitted(spec.end_frame, spec) if start is not None else None
    background = _background(spec, start)
    background_end = _background(spec, end) if end is not None else None
    small = _counter_font(spec)
    ball_r = max(10, min(spec.width, spec.height) // 16)
    fps = spec.fps
    total = spec.seconds * fps
    tone = _tone_second() if spec.audio else b""
    fade = AUDIO_RATE // 5

    tmp = path.with_suffix(".part")
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
        video.options = {"preset": "ultrafast", "tune": "stillimage"}
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono") if spec.audio else None
        audio_done = 0  # samples sent so far

        for i in range(total):
            if stop is not None and stop.is_set():
                raise RenderCancelled
            t = i / fps
            frame_img = _frame_base(i, total, start, end, background, background_end)
            draw = ImageDraw.Draw(frame_img)
            # The ball sweeps left-right and bobs, so motion is obvious in any player.
            cx = int(ball_r + (spec.width - 2 * ball_r) * (0.5 - 0.5 * math.cos(2 * math.pi * t / 4)))
            cy = int(spec.height * 0.62 + spec.height * 0.12 * math.sin(2 * math.pi * t / 1.5))
            if not _pinned(i, total, start, end):
                draw.ellipse((cx - ball_r, cy - ball_r, cx + ball_r, cy + ball_r), fill=(255, 196, 60))
                bar_y = _bar_top(spec)
                bar_end = int(spec.width * (i + 1) / total)
                draw.rectangle((0, bar_y, bar_end, spec.height), fill=(255, 80, 120))
                draw.text(
                    (spec.width // 40, bar_y - small.size - 10),
                    f"frame {i + 1}/{total}   {t:05.2f} s / {spec.seconds} s",
                    font=small,
                    fill=(235, 235, 245),
                )
            vf = av.VideoFrame.from_image(frame_img)  # type: ignore[no-untyped-call]
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for packet in video.encode(vf):
                container.mux(packet)

            if audio is not None:
                # Keep audio interleaved with video: send samples up to the end of this frame.
                want = (i + 1) * AUDIO_RATE // fps
                chunk = _tone_slice(
                    tone, audio_done, want, total_samples=total * AUDIO_RATE // fps, fade=fade
                )
                af = av.AudioFrame(format="s16", layout="mono", samples=want - audio_done)
                af.planes[0].update(chunk)
                af.sample_rate = AUDIO_RATE
                af.pts = audio_done
                af.time_base = Fraction(1, AUDIO_RATE)
                audio_done = want
                for packet in audio.encode(af):
                    container.mux(packet)

        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            for packet in audio.encode(None):
                container.mux(packet)
    tmp.replace(path)


@functools.cache
def _tone_second() -> bytes:
    """One second of a quiet sine with a gentle tremolo (16-bit mono)."""
    samples = array(
        "h",
        (
            int(
                3000
                * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE)
                * (0.8 + 0.2 * math.sin(2 * math.pi * n / AUDIO_RATE))
            )
            for n in range(AUDIO_RATE)
        ),
    )
    return samples.tobytes()


def _tone_slice(tone: bytes, start: int, end: int, *, total_samples: int, fade: int) -> bytes:
    """Samples [start, end) of the looping tone, faded in and out at the ends to avoid clicks."""
    a, b = start % AUDIO_RATE, start % AUDIO_RATE + (end - start)
    raw = tone[2 * a : 2 * b] if b <= AUDIO_RATE else tone[2 * a :] + tone[: 2 * (b - AUDIO_RATE)]
    if fade <= start and end <= total_samples - fade:  # no sample inside a fade: as it is
        return raw
    samples = array("h")
    samples.frombytes(raw)
    for k in range(len(samples)):
        n = start + k
        gain = max(0.0, min(1.0, n / fade, (total_samples - n) / fade))
        samples[k] = int(samples[k] * gain)
    return samples.tobytes()


def _font(size: int) -> Any:
    from PIL import ImageFont

    # DejaVu covers most scripts a prompt may use; Pillow's bundled font (Latin only) works everywhere.
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _text(font: Any, text: str) -> str:
    """`text` with characters the font cannot draw replaced by ASCII look-alikes."""
    if "DejaVu" in str(getattr(font, "path", "")):
        return text
    return text.replace("—", "-").replace("×", "x").replace("·", "|").replace("…", "...")


def _counter_font(spec: RenderSpec) -> Any:
    return _font(max(14, spec.height // 30))


def _bar_top(spec: RenderSpec) -> int:
    return spec.height - max(8, spec.height // 60)


def _pinned(i: int, total: int, start: Image.Image | None, end: Image.Image | None) -> bool:
    """Whether frame `i` is exactly a given image: the first with a start frame, the last with an end one."""
    return (i == 0 and start is not None) or (i == total - 1 and end is not None)


def _frame_base(
    i: int,
    total: int,
    start: Image.Image | None,
    end: Image.Image | None,
    background: Image.Image,
    background_end: Image.Image | None,
) -> Image.Image:
    from PIL import Image

    if i == 0 and start is not None:
        return start.copy()
    if i == total - 1 and end is not None:
        return end.copy()
    if background_end is not None:
        return Image.blend(background, background_end, i / max(1, total - 1))
    return background.copy()


def _fitted(path: Path | None, spec: RenderSpec) -> Image.Image | None:
    """The image at `path` cropped and scaled to fill the output size; None if there is none or it is bad."""
    if path is None:
        return None
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            return ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (spec.width, spec.height))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        logger.warning("simulated render: cannot read the input frame %s (%s)", path.name, exc)
        return None


def _background(spec: RenderSpec, picture: Image.Image | None = None) -> Image.Image:
    """The static part of every frame: `picture` or a gradient, then label, prompt and format line."""
    import textwrap

    from PIL import Image, ImageDraw

    w, h = spec.width, spec.height
    if picture is not None:
        img = picture.copy()
    else:
        digest = hashlib.sha256(spec.prompt.encode()).digest()
        top = (20 + digest[0] % 40, 24 + digest[1] % 40, 60 + digest[2] % 60)
        bottom = (60 + digest[3] % 60, 20 + digest[4] % 30, 70 + digest[5] % 60)
        # A 1-pixel-wide gradient stretched to full width is far cheaper than drawing every row.
        column = Image.new("RGB", (1, h))
        for y in range(h):
            f = y / max(1, h - 1)
            column.putpixel((0, y), tuple(int(a + (b - a) * f) for a, b in zip(top, bottom, strict=True)))
        img = column.resize((w, h))
    draw = ImageDraw.Draw(img)

    pad = w // 40
    label_font = _font(max(16, h // 22))
    label = _text(label_font, LABEL)
    box = draw.textbbox((0, 0), label, font=label_font)
    draw.rectangle((0, 0, w, box[3] + 2 * pad // 2 + 8), fill=(200, 30, 60))
    draw.text((pad, pad // 2 + 4), label, font=label_font, fill=(255, 255, 255))

    prompt_font = _font(max(14, h // 28))
    info_font = _font(max(12, h // 40))
    chars = max(16, int(w / (prompt_font.size * 0.55)))
    lines = textwrap.wrap(spec.prompt, width=chars) or [""]
    if len(lines) > PROMPT_LINES:
        lines = [*lines[: PROMPT_LINES - 1], lines[PROMPT_LINES - 1][: chars - 1] + "…"]
    y = int(box[3]) + pad + 16
    if picture is not None:  # cover whatever text the picture already carries (see the module's note)
        text_end = y + int(prompt_font.size * 1.3) * PROMPT_LINES + 6 + info_font.size + 8
        draw.rectangle((0, box[3] + 2 * pad // 2 + 8, w, text_end), fill=BAND)
        draw.rectangle((0, _bar_top(spec) - _counter_font(spec).size - 14, w, h), fill=BAND)
    for line in lines:
        draw.text((pad, y), line, font=prompt_font, fill=(245, 245, 250))
        y += int(prompt_font.size * 1.3)
    info = f"{w}×{h} · {spec.seconds} s · {spec.fps} fps · audio {'on' if spec.audio else 'off'}"
    draw.text((pad, y + 6), _text(info_font, info), font=info_font, fill=(190, 190, 210))
    return img


class Renderer:
    """Renders specs into `directory` on a bounded pool, caching one file per distinct spec."""

    def __init__(self, directory: Path, max_workers: int = 2) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        # Background priority: the simulator stands in for fal's GPUs, so its renders must not take
        # the CPU from the server it serves (whose webhook and answer latencies are measured).
        self._pool = background_pool(max_workers, "sim-render")
        self._cache: dict[str, concurrent.futures.Future[Path]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def render(self, spec: RenderSpec) -> concurrent.futures.Future[Path]:
        """A future for the rendered file; the same future for a spec seen before (unless it failed)."""
        with self._lock:
            future = self._cache.get(spec.key)
            if future is not None and not (future.done() and future.exception() is not None):
                return future
            future = self._pool.submit(self._run, spec)
            self._cache[spec.key] = future
            return future

    def _run(self, spec: RenderSpec) -> Path:
        path = self._dir / f"{spec.key}.mp4"
        started = time.perf_counter()
        render_mp4(spec, path, self._stop)
        logger.debug(
            "rendered %dx%d %ds audio=%s in %.2fs",
            spec.width,
            spec.height,
            spec.seconds,
            spec.audio,
            time.perf_counter() - started,
        )
        return path

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
