"""Joining clips into one film: one MP4, one frame size, one frame rate, one audio track.

Streams frame by frame: each clip is opened only while its frames are written (twice, one
container for its video and one for its audio, so a badly interleaved file never makes us hold
decoded frames of one track while looking for the other), and at most two clips are open at
once, during a crossfade. Memory therefore stays flat in the number and length of the clips.

- Size: every frame is scaled to fit the output size and padded with black (letterbox/pillarbox).
- Frame rate: the output shows, at each of its instants, the input frame on screen at that moment
  (frames are repeated or dropped), so every clip keeps its own duration.
- Audio: every clip's audio is resampled to 48 kHz stereo and cut or padded with silence to the
  clip's video length; a clip without audio contributes silence. No clip with audio: no audio track.
- Crossfade: the last `crossfade` seconds of a clip dissolve into the first of the next (picture
  and sound), so the film is shorter by that much per join.

Synchronous and CPU-bound: async callers run `stitch` in a worker thread; `progress` is called from
that thread and `stop` is checked between frames. The file is written under a temporary name in the
target's folder, named for its owner (`partial_files`), and renamed into place only when complete; a
process killed mid-write leaves that file to whoever sweeps after it.
"""

from __future__ import annotations

import math
import os
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from ..catalogue.endpoints import SIZES_UP_TO_1080P
from ..errors import InputError, SeedanceError
from ..jobs.owners import new_owner_id
from ..jobs.partial_files import discard, partial_path
from .limits import MAX_CLIP_SECONDS, MAX_CLIPS, check_clip, check_film_seconds

SAMPLE_RATE: Final = 48_000
CHANNELS: Final = 2
SAMPLE_BYTES: Final = 2 * CHANNELS  # s16, interleaved
DEFAULT_FPS: Final = Fraction(24)
MAX_CROSSFADE_SECONDS: Final = 1.0
# superfast: about half veryfast's time per 720p frame for a file about twice the size (still a few
# MB per minute of these clips); crf 20 keeps the picture visually unchanged.
X264_OPTIONS: Final = {"preset": "superfast", "crf": "20"}
PROGRESS_EVERY_SECONDS: Final = 1.0  # of film written


class StitchCancelled(SeedanceError):
    """`stop` was set while stitching; nothing was left behind."""


@dataclass(frozen=True)
class ClipInput:
    path: Path
    label: str  # how refusals name the clip: "clips[1] (job sd_abc)"


@dataclass(frozen=True)
class ClipFacts:
    label: str
    width: int  # as displayed
    height: int
    fps: float
    seconds: float  # of video, as it enters the film
    has_audio: bool


@dataclass(frozen=True)
class Film:
    path: Path
    width: int
    height: int
    fps: float
    seconds: float
    has_audio: bool
    crossfade_seconds: float
    clips: tuple[ClipFacts, ...]


Progress = Callable[[int, int], None]  # (frames written, frames in all)


def frame_size(first: tuple[int, int], aspect_ratio: str | None) -> tuple[int, int]:
    """The film's size: the first clip's, or the documented output size of `aspect_ratio` closest to it."""
    width, height = first
    if aspect_ratio is None or aspect_ratio == "auto":
        return max(2, width - width % 2), max(2, height - height % 2)
    pixels = width * height
    sizes = [by_aspect[aspect_ratio] for by_aspect in SIZES_UP_TO_1080P.values()]  # every model's
    return min(sizes, key=lambda size: abs(math.log(size[0] * size[1] / pixels)))


def stitch(
    clips: Sequence[ClipInput],
    target: Path,
    *,
    aspect_ratio: str | None = None,
    crossfade: float = 0.0,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    owner: str | None = None,
) -> Film:
    """Join `clips` in order into the MP4 `target`. Raises `InputError` (naming the clip) or `MediaError`.
    `owner` names the temporary file (the process's lease owner; a new name of this process if None)."""
    import av

    if not 0 <= crossfade <= MAX_CROSSFADE_SECONDS:
        raise InputError(
            "crossfade_seconds", f"must be between 0 and {MAX_CROSSFADE_SECONDS:g}; got {crossfade}"
        )
    if len(clips) > MAX_CLIPS:
        raise InputError("clips", f"a film takes at most {MAX_CLIPS} clips; got {len(clips)}")
    facts = [_clip_facts(clip) for clip in clips]  # headers only: limits before any decoding
    check_film_seconds(sum(f.seconds for f in facts) - crossfade * (len(facts) - 1))
    first = facts[0]
    fps = _film_fps(clips[0].path)
    width, height = frame_size((first.width, first.height), aspect_ratio)
    counts = [max(1, round(f.seconds * fps)) for f in facts]
    fade = round(crossfade * fps)
    for f, count in zip(facts, counts, strict=True):
        if len(facts) > 1 and count < 2 * fade + 1:
            raise InputError(
                "crossfade_seconds",
                f"{f.label} is {f.seconds:.2f} s, too short for a {crossfade:g} s crossfade at both ends; "
                f"use at most {max(0.0, (f.seconds - 1 / fps) / 2):.2f} s",
            )
    total = sum(counts) - fade * (len(counts) - 1)
    has_audio = any(f.has_audio for f in facts)

    tmp = partial_path(target, owner or new_owner_id())
    try:
        with _Writer(tmp, width, height, fps, has_audio) as writer:
            _write_film(writer, clips, facts, counts, fade, progress, stop, total)
        os.replace(tmp, target)
    except av.FFmpegError as exc:
        from ..media.probe import MediaError

        raise MediaError(f"stitching failed while writing or decoding ({exc})") from None
    finally:
        discard(tmp)
    return Film(
        path=target,
        width=width,
        height=height,
        fps=float(fps),
        seconds=float(total / fps),
        has_audio=has_audio,
        crossfade_seconds=fade / float(fps),
        clips=tuple(facts),
    )


def _write_film(
    writer: _Writer,
    clips: Sequence[ClipInput],
    facts: list[ClipFacts],
    counts: list[int],
    fade: int,
    progress: Progress | None,
    stop: threading.Event | None,
    total: int,
) -> None:
    every = max(1, round(writer.fps * PROGRESS_EVERY_SECONDS))
    previous: _OpenClip | None = None
    last = len(clips) - 1
    for index, clip in enumerate(clips):
        current = _OpenClip(clip.path, writer, facts[index].has_audio)
        try:
            first_own = 0
            if previous is not None:  # the join: the end of the previous clip dissolves into this one
                tail = counts[index - 1] - fade
                for j in range(fade):
                    weight = (j + 1) / (fade + 1)
                    picture = _blend(previous.picture(tail + j), current.picture(j), weight)
                    samples = writer.samples_for_next_frame()
                    sound = _mix(previous.sound(samples), current.sound(samples), j, fade)
                    writer.write(picture, sound)
                    _tick(writer, progress, stop, every, total)
                previous.close()
                previous = None
                first_own = fade
            own_end = counts[index] - (fade if index < last else 0)
            for j in range(first_own, own_end):
                writer.write(current.picture(j), current.sound(writer.samples_for_next_frame()))
                _tick(writer, progress, stop, every, total)
        except BaseException:
            current.close()
            if previous is not None:
                previous.close()
            raise
        previous = current
    if previous is not None:
        previous.close()
    if progress is not None:
        progress(writer.frames, total)


def _tick(
    writer: _Writer, progress: Progress | None, stop: threading.Event | None, every: int, total: int
) -> None:
    if stop is not None and stop.is_set():
        raise StitchCancelled("stitching was cancelled; no file was written")
    if progress is not None and writer.frames % every == 0:
        progress(writer.frames, total)


# --- reading clips ------------------------------------------------------------------------------


def _clip_facts(clip: ClipInput) -> ClipFacts:
    """Size, rate, video length and audio presence from the headers (nothing is decoded)."""
    import av

    from ..media.probe import MediaError, probe

    info = probe(clip.path)
    if info.kind != "video" or not info.width or not info.height:
        raise InputError(
            clip.label,
            f"is {info.format.upper()} {info.kind}, not a video; give a finished job's id or an MP4 or MOV "
            "file in its place (a still image can become a clip with generate_video's image_url)",
        )
    check_clip(clip.label, info, "it")
    try:
        with av.open(str(clip.path), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            seconds = None
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            elif stream.frames and stream.average_rate:
                seconds = float(stream.frames / stream.average_rate)
    except av.FFmpegError as exc:
        raise MediaError(f"{clip.label} cannot be read ({exc})") from None
    seconds = seconds or info.duration
    if not seconds:
        raise InputError(clip.label, "has no readable duration; export it again as MP4")
    if seconds > MAX_CLIP_SECONDS:  # the stream's own header may claim more than the container's
        raise InputError(
            clip.label, f"says it lasts {seconds:.0f} s; clips are at most {MAX_CLIP_SECONDS:g} s"
        )
    return ClipFacts(clip.label, info.width, info.height, info.fps or 0.0, seconds, bool(info.has_audio))


def _film_fps(path: Path) -> Fraction:
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        rate = container.streams.video[0].average_rate or container.streams.video[0].guessed_rate
    if not rate or rate <= 0:
        return DEFAULT_FPS
    return Fraction(rate).limit_denominator(1001)


class _OpenClip:
    """One clip being read: its picture at any film instant, and its sound in exact sample counts."""

    def __init__(self, path: Path, writer: _Writer, has_audio: bool) -> None:
        import av

        self._size = (writer.width, writer.height)
        self._fps = writer.fps
        self._video = av.open(str(path), metadata_errors="ignore")
        stream = self._video.streams.video[0]
        self._time_base: Fraction = stream.time_base or Fraction(1, 1000)
        self._start = stream.start_time or 0
        self._frames: Iterator[Any] = self._video.decode(stream)
        self._shown: Any = None  # the decoded frame on screen now
        self._shown_fitted: Any = None  # ... as a film-sized yuv420p VideoFrame, made when first needed
        self._upcoming: Any = None
        self._exhausted = False
        self._audio: Any = None
        self._sound = bytearray()
        if has_audio and writer.has_audio:
            self._audio = av.open(str(path), metadata_errors="ignore")
            self._audio_frames: Iterator[Any] = self._audio.decode(self._audio.streams.audio[0])
            self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)

    def picture(self, index: int) -> Any:
        """The clip's picture at its own frame `index` of the film's rate, as a film-sized VideoFrame."""
        moment = index / self._fps
        while not self._exhausted:
            if self._upcoming is None:
                self._upcoming = next(self._frames, None)
                if self._upcoming is None:
                    self._exhausted = True
                    break
            if self._shown is not None and self._seconds(self._upcoming) > moment + 1e-6:
                break
            self._shown, self._shown_fitted, self._upcoming = self._upcoming, None, None
        if self._shown is None:
            from ..media.probe import MediaError

            raise MediaError("a clip has no decodable frames")
        if self._shown_fitted is None:
            self._shown_fitted = _fit(self._shown, self._size)
        return self._shown_fitted

    def sound(self, samples: int) -> bytes:
        """The next `samples` samples (s16 stereo), silence past the end or when the clip has none."""
        wanted = samples * SAMPLE_BYTES
        while self._audio is not None and len(self._sound) < wanted:
            frame = next(self._audio_frames, None)
            for out in self._resampler.resample(frame):
                self._sound += bytes(out.planes[0])[: out.samples * SAMPLE_BYTES]
            if frame is None:
                self._audio.close()
                self._audio = None
        chunk = bytes(self._sound[:wanted])
        del self._sound[:wanted]
        return chunk + bytes(wanted - len(chunk))

    def close(self) -> None:
        self._video.close()
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    def _seconds(self, frame: Any) -> float:
        if frame.pts is None:
            return 0.0
        return float((frame.pts - self._start) * self._time_base)


def _fit(frame: Any, size: tuple[int, int]) -> Any:
    """`frame` scaled to fit `size` (rotation applied), centred on black, as a yuv420p VideoFrame."""
    import av
    from PIL import Image as PILImage

    width, height = size
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if not rotation and (frame.width, frame.height) == size:
        # The common case (shots of one film share a size): no RGB round trip, which costs more than
        # encoding the frame.
        return frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
    shown_w, shown_h = (frame.height, frame.width) if rotation % 180 else (frame.width, frame.height)
    scale = min(width / shown_w, height / shown_h)
    fit_w, fit_h = min(width, max(2, round(shown_w * scale))), min(height, max(2, round(shown_h * scale)))
    decode_w, decode_h = (fit_h, fit_w) if rotation % 180 else (fit_w, fit_h)
    image: PILImage.Image = frame.to_image(width=decode_w, height=decode_h)
    if rotation:
        image = image.rotate(rotation, expand=True)
    if image.size != size:
        canvas = PILImage.new("RGB", size)
        canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
        image = canvas
    return av.VideoFrame.from_image(image).reformat(format="yuv420p")  # type: ignore[no-untyped-call]


def _blend(a: Any, b: Any, weight: float) -> Any:
    import av
    from PIL import Image as PILImage

    mixed = PILImage.blend(a.to_image(), b.to_image(), weight)
    return av.VideoFrame.from_image(mixed)  # type: ignore[no-untyped-call]


def _mix(outgoing: bytes, incoming: bytes, step: int, steps: int) -> bytes:
    """Linear crossfade of two equal s16 chunks, ramping within frame `step` of `steps`."""
    a, b = array("h"), array("h")
    a.frombytes(outgoing)
    b.frombytes(incoming)
    count = len(a) // CHANNELS
    for i in range(count):
        weight = (step + (i + 0.5) / count) / steps
        for c in range(CHANNELS):
            k = i * CHANNELS + c
            a[k] = round(a[k] * (1 - weight) + b[k] * weight)
    return a.tobytes()


# --- writing ------------------------------------------------------------------------------------


class _Writer:
    """The output file: H.264 video and, when any clip has sound, AAC stereo audio, kept interleaved."""

    def __init__(self, path: Path, width: int, height: int, fps: Fraction, has_audio: bool) -> None:
        self._path = path
        self.width, self.height, self.fps, self.has_audio = width, height, fps, has_audio
        self.frames = 0
        self._samples = 0
        self._container: Any = None
        self._video: Any = None
        self._audio: Any = None

    def __enter__(self) -> _Writer:
        import av

        self._container = av.open(str(self._path), "w", format="mp4", options={"movflags": "+faststart"})
        self._video = self._container.add_stream("libx264", rate=self.fps, options=dict(X264_OPTIONS))
        self._video.width, self._video.height, self._video.pix_fmt = self.width, self.height, "yuv420p"
        if self.has_audio:
            self._audio = self._container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        return self

    def samples_for_next_frame(self) -> int:
        """Audio samples that belong with the next video frame, so sound never drifts from picture."""
        return round((self.frames + 1) * SAMPLE_RATE / self.fps) - round(self.frames * SAMPLE_RATE / self.fps)

    def write(self, frame: Any, sound: bytes) -> None:
        import av

        frame.pts = self.frames
        frame.time_base = 1 / self.fps
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self.frames += 1
        if self._audio is not None:
            samples = len(sound) // SAMPLE_BYTES
            chunk = av.AudioFrame(format="s16", layout="stereo", samples=samples)
            plane = chunk.planes[0]
            plane.update(sound + bytes(plane.buffer_size - len(sound)))
            chunk.sample_rate = SAMPLE_RATE
            chunk.pts = self._samples
            chunk.time_base = Fraction(1, SAMPLE_RATE)
            self._samples += samples
            for packet in self._audio.encode(chunk):
                self._container.mux(packet)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                for packet in self._video.encode(None):
                    self._container.mux(packet)
                if self._audio is not None:
                    for packet in self._audio.encode(None):
                        self._container.mux(packet)
        finally:
            self._container.close()


__all__ = [
    "MAX_CROSSFADE_SECONDS",
    "ClipFacts",
    "ClipInput",
    "Film",
    "StitchCancelled",
    "frame_size",
    "stitch",
]
