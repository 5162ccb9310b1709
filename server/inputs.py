"""The media parameters of the generating tools, checked and made uploadable.

Each media parameter (`image_url`, `end_image_url`; `image_urls`, `video_urls`, `audio_urls`) takes an
`https://` URL, a `data:` URI or a local path (absolute, `~`, or `file://`). `check_frames` and
`check_references` apply every documented limit before anything is uploaded or paid for, in this
order: counts, prompt references (`@Image2`, `[Video1]`), then each input (scheme, place, size,
content), then the combined limits (durations, total size). Local files are read only from inside
the allowed folders, never from a hidden one nor through a hard link, and only when their content is
media of an accepted type. URLs get the same checks by ranged reads, all at once
(`seedance_mcp.server.url_media`); one that cannot be read is passed on with a warning. `upload_inputs`
then turns local files and data URIs into public URLs; URLs pass through as given.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import dataclasses
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import anyio

from seedance_mcp.server.errors import InputError
from seedance_mcp.server.media import KIND, UNSUPPORTED, MediaError, MediaInfo, MediaKind, probe, sniff_kind
from seedance_mcp.server.model_facts import (
    AUDIO_FORMATS,
    AUDIO_SECONDS_MAX,
    FRAME_IMAGE_FORMATS,
    MAX_AUDIO_BYTES,
    MAX_AUDIOS,
    MAX_FILES,
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    MAX_VIDEO_TOTAL_BYTES,
    MAX_VIDEOS,
    REFERENCE_IMAGE_FORMATS,
    VIDEO_FORMATS,
    VIDEO_PIXELS_MAX,
    VIDEO_PIXELS_MIN,
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
)
from seedance_mcp.server.url_media import (
    LOOPBACK_HOSTS,
    UrlPolicy,
    UrlProbe,
    UrlRefused,
    credentials_refusal,
    probe_url,
    shared_client,
)

log = logging.getLogger(__name__)

Source = Literal["url", "data", "path"]

UPLOAD_CONCURRENCY: Final = 4  # a few parallel uploads fill a home uplink; more only queue at the router
MAX_REFERENCE_DIGITS: Final = 3  # "@Image12" is already past every limit; longer numbers are not parsed


@dataclass(frozen=True)
class MediaInput:
    field: str  # the parameter and index as the user wrote it, for messages: "image_urls[2]", "image_url"
    param: str  # the parameter it belongs to: "image_urls", "image_url"
    kind: MediaKind
    source: Source
    value: str  # the URL as given, or the real path of the local file (a private temp file for data:)
    info: MediaInfo | None  # probed; None only for a URL that could not be read (see the warnings)


@dataclass(frozen=True)
class CheckedInputs:
    inputs: tuple[MediaInput, ...]
    warnings: tuple[str, ...]
    input_video_seconds: float | None  # sum of the probed video durations; None if one could not be read


# --- what each field accepts ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    kind: MediaKind
    formats: tuple[str, ...]
    max_bytes: int  # per file; videos are limited in total, so a single one may use the whole budget
    what: str  # "reference image", "start frame", ...
    param: str


def _names(formats: Sequence[str]) -> str:
    shown = [{"jpeg": "JPEG", "webp": "WebP"}.get(f, f.upper()) for f in formats]
    return ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]


def _mb(size: float) -> str:
    return f"{size / 1_000_000:.1f} MB" if size % 1_000_000 else f"{size / 1_000_000:.0f} MB"


_IMAGE = _Rules("image", REFERENCE_IMAGE_FORMATS, MAX_IMAGE_BYTES, "reference image", "image_urls")
_VIDEO = _Rules("video", VIDEO_FORMATS, MAX_VIDEO_TOTAL_BYTES, "reference video", "video_urls")
_AUDIO = _Rules("audio", AUDIO_FORMATS, MAX_AUDIO_BYTES, "reference audio clip", "audio_urls")
# The seeds give no size limit for start and end frames; the reference images' 30 MB is the safe bet.
_START = _Rules("image", FRAME_IMAGE_FORMATS, MAX_IMAGE_BYTES, "start frame", "image_url")
_END = _Rules("image", FRAME_IMAGE_FORMATS, MAX_IMAGE_BYTES, "end frame", "end_image_url")

_EXTENSIONS: Final[dict[str, str]] = {
    **dict.fromkeys(("jpg", "jpeg", "jpe", "jfif"), "jpeg"),
    "png": "png",
    "webp": "webp",
    "gif": "gif",
    "avif": "avif",
    **dict.fromkeys(("heic", "heif"), "heic"),
    "bmp": "bmp",
    **dict.fromkeys(("tif", "tiff"), "tiff"),
    **dict.fromkeys(("mp4", "m4v"), "mp4"),
    **dict.fromkeys(("mov", "qt"), "mov"),
    **dict.fromkeys(("webm", "mkv"), "webm"),
    "avi": "avi",
    **dict.fromkeys(("3gp", "3g2"), "3gp"),
    "mp3": "mp3",
    **dict.fromkeys(("wav", "wave"), "wav"),
    **dict.fromkeys(("m4a", "aac"), "m4a"),
    **dict.fromkeys(("ogg", "oga", "opus"), "ogg"),
    "flac": "flac",
    "pdf": "pdf",
}
# Extensions that can never name media, whatever server sits behind the URL.
_NOT_MEDIA: Final = frozenset(
    {"txt", "md", "html", "htm", "json", "xml", "csv", "zip", "gz", "tar", "js", "css", "doc", "docx", "exe"}
)
_FORMAT_KIND: Final[dict[str, str]] = {
    **KIND,
    "heic": "image",
    "bmp": "image",
    "tiff": "image",
    "webm": "video",
    "avi": "video",
    "3gp": "video",
    "m4a": "audio",
    "ogg": "audio",
    "flac": "audio",
    "pdf": "document",
}
_MIME_FORMATS: Final[dict[str, str]] = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/avif": "avif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
}
_EXT_FOR_FORMAT: Final = {"jpeg": "jpg"}


def _describe(fmt: str) -> str:
    if fmt in UNSUPPORTED:
        return UNSUPPORTED[fmt]
    return f"{_names([fmt])} {KIND[fmt]}"


# --- the public checks ------------------------------------------------------------------------------


async def check_frames(
    prompt: str,
    image_url: str | None,
    end_image_url: str | None,
    *,
    allowed_dirs: Sequence[Path],
    urls: UrlPolicy | None = None,
) -> CheckedInputs:
    """Check the start frame (required) and end frame (optional) of image-to-video.

    With `urls`, URL inputs are fetched (ranged reads only) and checked like local files; without
    it they get the checks that need no network (scheme, credentials, file name)."""
    if not image_url:
        raise InputError(
            "image_url", "image-to-video needs a start frame: pass image_url (URL, data: URI or path)"
        )
    wanted: list[tuple[str, str, _Rules]] = [("image_url", image_url, _START)]
    if end_image_url:
        wanted.append(("end_image_url", end_image_url, _END))
    warnings: list[str] = []
    if _references(prompt):
        warnings.append(
            "The prompt names @Image/@Video/@Audio references, which only reference_video understands; "
            "here the start frame is simply the first frame."
        )
    inputs, unchecked = await _check_all(wanted, tuple(allowed_dirs), urls)
    return CheckedInputs(inputs=tuple(inputs), warnings=(*warnings, *unchecked), input_video_seconds=0.0)


async def check_references(
    prompt: str,
    image_urls: Sequence[str],
    video_urls: Sequence[str],
    audio_urls: Sequence[str],
    *,
    allowed_dirs: Sequence[Path],
    urls: UrlPolicy | None = None,
) -> CheckedInputs:
    """Check reference-to-video media against every documented limit; nothing is uploaded.

    `urls` as for `check_frames`; a probed URL video's duration counts in `input_video_seconds`."""
    images, videos, audios = list(image_urls or ()), list(video_urls or ()), list(audio_urls or ())
    _check_counts(images, videos, audios)
    warnings = _check_prompt_references(prompt, len(images), len(videos), len(audios))
    wanted = [
        *((f"image_urls[{i}]", v, _IMAGE) for i, v in enumerate(images)),
        *((f"video_urls[{i}]", v, _VIDEO) for i, v in enumerate(videos)),
        *((f"audio_urls[{i}]", v, _AUDIO) for i, v in enumerate(audios)),
    ]
    inputs, unchecked = await _check_all(wanted, tuple(allowed_dirs), urls)
    try:
        seconds = _check_combined(inputs)
    except InputError:
        release(CheckedInputs(tuple(inputs), (), None))
        raise
    return CheckedInputs(inputs=tuple(inputs), warnings=(*warnings, *unchecked), input_video_seconds=seconds)


async def upload_inputs(checked: CheckedInputs, upload: Callable[[Path, str], Awaitable[str]]) -> list[str]:
    """The public URL of each input, in order. Local files and data URIs are uploaded (a few at a time,
    each file once); URLs pass through."""
    pending: dict[str, MediaInput] = {}
    for item in checked.inputs:
        if item.source != "url":
            pending.setdefault(item.value, item)
    uploaded: dict[str, str] = {}
    failures: list[BaseException] = []
    limiter = anyio.CapacityLimiter(UPLOAD_CONCURRENCY)

    async def one(item: MediaInput) -> None:
        assert item.info is not None
        async with limiter:
            if failures:  # one failed: the request cannot go ahead, so spare the rest
                return
            try:
                uploaded[item.value] = await upload(Path(item.value), item.info.mime)
            except Exception as exc:
                failures.append(exc)

    async with anyio.create_task_group() as group:
        for item in pending.values():
            group.start_soon(one, item)
    if failures:
        raise failures[0]
    release(checked)
    return [item.value if item.source == "url" else uploaded[item.value] for item in checked.inputs]


def release(checked: CheckedInputs) -> None:
    """Delete the temp files that data: URIs were written to (also done at exit and after upload)."""
    for item in checked.inputs:
        if item.source == "data":
            with contextlib.suppress(OSError):
                os.unlink(item.value)


# --- counts and prompt references -------------------------------------------------------------------


def _check_counts(images: list[str], videos: list[str], audios: list[str]) -> None:
    for values, limit, noun, param in (
        (images, MAX_IMAGES, "image", "image_urls"),
        (videos, MAX_VIDEOS, "video", "video_urls"),
        (audios, MAX_AUDIOS, "audio clip", "audio_urls"),
    ):
        if len(values) > limit:
            extra = len(values) - limit
            raise InputError(
                param,
                f"Too many reference {noun}s: {len(values)} given, the limit is {limit}. "
                f"Remove {extra} {noun}{'s' if extra > 1 else ''}.",
            )
    total = len(images) + len(videos) + len(audios)
    if total > MAX_FILES:
        extra = total - MAX_FILES
        raise InputError(
            "image_urls+video_urls+audio_urls",
            f"Too many input files: {total} given, and images, videos and audio together may not exceed "
            f"{MAX_FILES}. Remove {extra} file{'s' if extra > 1 else ''}.",
        )
    if audios and not images and not videos:
        raise InputError(
            "audio_urls",
            "Audio requires at least one image or video: add a reference image (image_urls) or video "
            "(video_urls), or drop audio_urls.",
        )
    for param, values in (("image_urls", images), ("video_urls", videos), ("audio_urls", audios)):
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise InputError(
                    f"{param}[{i}]", "is empty: give an https:// URL, a data: URI or a file path"
                )


# A token counts only on its own: "me@image1.com" and "@Image1x" are not references, "(@Image1)." is.
_REFERENCE = re.compile(
    r"(?<![\w@])@(image|video|audio)(\d+)(?![\w@]|\.\w)|\[(image|video|audio)\s*(\d+)\]", re.IGNORECASE
)


def _references(prompt: str) -> list[tuple[str, int, str]]:
    """(kind, number, as written) for each @Image2 / [Video1] style reference in the prompt."""
    found = []
    for match in _REFERENCE.finditer(prompt or ""):
        kind = (match.group(1) or match.group(3)).lower()
        digits = match.group(2) or match.group(4)
        written = match.group(0)
        if len(digits.lstrip("0")) > MAX_REFERENCE_DIGITS:
            shown = f"{written[:12]}… ({len(digits):,} digits)"
            raise InputError(
                "prompt",
                f"{shown} is not a usable reference: numbers run from 1 to at most {MAX_IMAGES} "
                f"(@Image1-@Image{MAX_IMAGES}, @Video1-@Video{MAX_VIDEOS}, @Audio1-@Audio{MAX_AUDIOS}). "
                "Fix the number in the prompt.",
            )
        found.append((kind, int(digits), written))
    return found


def _check_prompt_references(prompt: str, images: int, videos: int, audios: int) -> list[str]:
    counts = {
        "image": (images, "image_urls"),
        "video": (videos, "video_urls"),
        "audio": (audios, "audio_urls"),
    }
    used: set[tuple[str, int]] = set()
    for kind, number, written in _references(prompt):
        have, param = counts[kind]
        if not 1 <= number <= have:
            label = kind.capitalize()
            if have == 0:
                fix = f"add {param} or remove {written} from the prompt"
            else:
                span = f"@{label}1" if have == 1 else f"@{label}1 to @{label}{have}"
                fix = f"refer to {span}, or add more {param}"
            noun = "audio clip" if kind == "audio" else kind
            amount = f"is 1 {noun}" if have == 1 else f"are {have or 'no'} {noun}s"
            raise InputError(
                "prompt",
                f"{written} refers to {noun} number {number}, but there {amount} in {param} "
                f"(numbered from 1): {fix}.",
            )
        used.add((kind, number))
    warnings = []
    for kind, (have, param) in counts.items():
        for number in range(1, have + 1):
            if (kind, number) not in used:
                warnings.append(
                    f"{param}[{number - 1}] (@{kind.capitalize()}{number}) is never referenced in the "
                    f"prompt; name it as @{kind.capitalize()}{number} to say how it should be used."
                )
    return warnings


# --- one input ---------------------------------------------------------------------------------------


async def _check_all(
    wanted: list[tuple[str, str, _Rules]], allowed_dirs: tuple[Path, ...], urls: UrlPolicy | None
) -> tuple[list[MediaInput], list[str]]:
    """Every input checked: local files and data URIs in a worker thread, then all URLs at once."""
    inputs = await anyio.to_thread.run_sync(_check_each, wanted, allowed_dirs)
    remote = [i for i in inputs if i.source == "url"]
    if urls is None or not remote:
        return inputs, []
    rules = {field: r for field, _, r in wanted}
    try:
        probes = await _probe_urls([(i.field, i.value, rules[i.field]) for i in remote], urls)
        checked = {
            item.field: _check_probe(item, probe, rules[item.field])
            for item, probe in zip(remote, probes, strict=True)
        }
    except BaseException:
        release(CheckedInputs(tuple(inputs), (), None))
        raise
    warnings = [
        f"{item.field} could not be fully checked before submitting ({probe.unchecked}); the provider "
        "checks it when the job runs, so a bad file fails only then."
        for item, probe in zip(remote, probes, strict=True)
        if probe.unchecked
    ]
    return [checked.get(i.field, i) for i in inputs], warnings


async def _probe_urls(values: list[tuple[str, str, _Rules]], policy: UrlPolicy) -> list[UrlProbe]:
    """Probe every (field, URL, rules) in parallel, each in a worker thread, all within the policy's time."""
    results: list[UrlProbe | UrlRefused | None] = [None] * len(values)
    client = await anyio.to_thread.run_sync(shared_client)

    async def one(index: int) -> None:
        try:
            _, value, rules = values[index]
            results[index] = await anyio.to_thread.run_sync(
                probe_url, value, policy, client, rules.max_bytes, abandon_on_cancel=True
            )
        except UrlRefused as exc:
            results[index] = exc
        except Exception as exc:  # a bug in reading must not stop a request the provider can judge
            log.warning("probing %s failed", values[index][0], exc_info=True)
            results[index] = UrlProbe(None, None, None, f"reading it failed ({type(exc).__name__})")

    with anyio.move_on_after(policy.seconds + 1.0):  # each probe keeps its own deadline; this is a net
        async with anyio.create_task_group() as group:
            for index in range(len(values)):
                group.start_soon(one, index)
    for (field, _, _), result in zip(values, results, strict=True):
        if isinstance(result, UrlRefused):
            raise InputError(field, f"{result}.")
    return [
        r if isinstance(r, UrlProbe) else UrlProbe(None, None, None, "it did not answer in time")
        for r in results
    ]


def _check_probe(item: MediaInput, probe: UrlProbe, rules: _Rules) -> MediaInput:
    if probe.format is not None and probe.format not in rules.formats:
        raise InputError(
            item.field,
            _wrong_format_message(f"the URL serves {_a(_describe(probe.format))}", probe.format, rules),
        )
    if probe.size_bytes is not None and probe.size_bytes > rules.max_bytes:
        raise InputError(item.field, _too_big_message("the file behind the URL is", probe.size_bytes, rules))
    if probe.info is not None:
        _check_info(item.field, probe.info, rules, "the file behind the URL")
    return dataclasses.replace(item, info=probe.info)


def _check_each(wanted: list[tuple[str, str, _Rules]], allowed_dirs: tuple[Path, ...]) -> list[MediaInput]:
    """Runs in a worker thread: stats, sniffs and probes local files, decodes data URIs."""
    done: list[MediaInput] = []
    try:
        for field, value, rules in wanted:
            done.append(_check_one(field, value.strip(), rules, allowed_dirs))
    except BaseException:
        release(CheckedInputs(tuple(done), (), None))
        raise
    return done


def _check_one(field: str, value: str, rules: _Rules, allowed_dirs: tuple[Path, ...]) -> MediaInput:
    if "\x00" in value:
        raise InputError(
            field, "contains a NUL character (\\0), which no path or URL can hold; pass the name without it"
        )
    lowered = value[:16].lower()
    if lowered.startswith("data:"):
        return _check_data(field, value, rules)
    if lowered.startswith("file:"):
        return _check_path(field, value, _file_url_path(field, value), rules, allowed_dirs)
    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", value)
    if scheme and not re.match(r"[a-zA-Z]:[\\/]", value):  # "C:\..." is a Windows path, not a scheme
        return _check_url(field, value, scheme.group(1).lower(), rules)
    if value.startswith("~"):
        return _check_path(field, value, _home_path(field, value), rules, allowed_dirs)
    path = Path(value)
    if not path.is_absolute():
        raise InputError(
            field,
            f"{value!r} is neither a URL nor an absolute path. Give an https:// URL, a data: URI, or the "
            "file's full path (starting with / or ~).",
        )
    return _check_path(field, value, path, rules, allowed_dirs)


def _check_url(field: str, value: str, scheme: str, rules: _Rules) -> MediaInput:
    parts = urllib.parse.urlsplit(value)
    host = (parts.hostname or "").lower()
    if scheme not in ("https", "http"):
        raise InputError(
            field,
            f"URL scheme {scheme!r} is not supported: the provider fetches inputs over https. "
            "Use an https:// URL, a data: URI, or a local file path (it will be uploaded).",
        )
    if not host:
        raise InputError(field, f"{value!r} has no host name; give a full https:// URL")
    if (refusal := credentials_refusal(value)) is not None:
        raise InputError(field, refusal)
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise InputError(
            field,
            f"plain http:// is accepted only for this machine (127.0.0.1, localhost); {host} must be reached "
            "over https://. Use the https:// address, or download the file and pass its path.",
        )
    name = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _NOT_MEDIA:
        raise InputError(
            field,
            f"the URL ends in .{ext}, which is not {_a(rules.kind)} file; {rules.param} takes "
            f"{_names(rules.formats)} {rules.kind}s. Link to the media file itself.",
        )
    fmt = _EXTENSIONS.get(ext)
    if fmt is not None and fmt not in rules.formats:
        raise InputError(
            field, _wrong_format_message(f"the URL names a .{ext} file ({_describe(fmt)})", fmt, rules)
        )
    return MediaInput(field=field, param=rules.param, kind=rules.kind, source="url", value=value, info=None)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0].lower() in "aeiou" else f"a {noun}"


_PLURAL: Final = {"image": "images", "video": "videos", "audio": "audio"}


def _wrong_format_message(statement: str, fmt: str, rules: _Rules) -> str:
    """`statement` says what the input is ("x.gif is a GIF image"); the rest says what is accepted."""
    kind = _FORMAT_KIND.get(fmt, "file")
    accepted = f"{rules.what}s must be {_names(rules.formats)}"
    if kind != rules.kind:
        other = {"image": "image_urls", "video": "video_urls", "audio": "audio_urls"}.get(kind)
        move = f" Pass it in {other} instead." if other and rules.param.endswith("_urls") else ""
        return f"{statement}, but {rules.param} takes {_PLURAL[rules.kind]}: {accepted}.{move}"
    if fmt == "gif" and rules.param == "image_urls":
        fix = "Convert it to PNG or JPEG, or use it as the start frame of generate_video (image_url)."
    else:
        fix = f"Convert it to {_names(rules.formats)}."
    return f"{statement}; {accepted}. {fix}"


def _file_url_path(field: str, value: str) -> Path:
    parts = urllib.parse.urlsplit(value)
    if parts.netloc not in ("", "localhost"):
        raise InputError(
            field, f"file:// URLs must point at this machine, not {parts.netloc!r}; give a local path"
        )
    return _home_path(field, urllib.parse.unquote(parts.path))


def _home_path(field: str, value: str) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~someone" with no such user on this machine
        user = value[1:].split("/", 1)[0].split("\\", 1)[0]
        raise InputError(
            field,
            f"there is no user named {user!r} on this machine (from {value[: len(user) + 1]}); give "
            "the full path, or ~/ for your own home folder",
        ) from None


def _check_data(field: str, value: str, rules: _Rules) -> MediaInput:
    header, comma, payload = value.partition(",")
    if not comma:
        raise InputError(field, "the data: URI has no ',' before its content; use data:<mime>;base64,<data>")
    params = [p.strip().lower() for p in header[5:].split(";")]
    mime = params[0] or "text/plain"
    if "base64" not in params[1:]:
        raise InputError(field, "the data: URI is not base64-encoded; use data:<mime>;base64,<data>")
    declared = _MIME_FORMATS.get(mime)
    if declared is None and mime != "application/octet-stream":
        raise InputError(
            field,
            f"the data: URI declares {mime!r}; {rules.what}s must be {_names(rules.formats)} "
            f"(e.g. data:{_mime_of(rules.formats[0])};base64,...).",
        )
    if declared is not None and declared not in rules.formats:
        raise InputError(
            field,
            _wrong_format_message(f"the data: URI declares {mime} ({_describe(declared)})", declared, rules),
        )
    payload = re.sub(r"\s+", "", urllib.parse.unquote(payload) if "%" in payload else payload)
    # Refuse an oversized payload from its length alone, before spending memory on decoding it.
    decoded_size = len(payload) * 3 // 4 - payload[-2:].count("=")
    if decoded_size > rules.max_bytes:
        raise InputError(field, _too_big_message("the data: URI holds", decoded_size, rules))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(field, "the data: URI's base64 content is invalid; encode the file again") from None
    fmt = sniff_kind(data[:64])
    if fmt is None:
        raise InputError(
            field,
            f"the data: URI's content is not media we recognise; "
            f"{rules.what}s must be {_names(rules.formats)}",
        )
    if declared is not None and fmt != declared:
        raise InputError(
            field,
            f"the data: URI says {mime} but its content is {_describe(fmt)}; make the mime type match the "
            f"content (data:{_mime_of(fmt)};base64,...) or encode the right file.",
        )
    if fmt not in rules.formats:
        raise InputError(
            field, _wrong_format_message(f"the data: URI holds {_a(_describe(fmt))}", fmt, rules)
        )
    path = _write_private(field, data, fmt)
    try:
        info = _probe(field, path, "the data: URI's content")
        _check_info(field, info, rules, "the data: URI's content")
    except InputError:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return MediaInput(
        field=field, param=rules.param, kind=rules.kind, source="data", value=str(path), info=info
    )


def _mime_of(fmt: str) -> str:
    return next((m for m, f in _MIME_FORMATS.items() if f == fmt), "application/octet-stream")


def _check_path(
    field: str, given: str, path: Path, rules: _Rules, allowed_dirs: tuple[Path, ...]
) -> MediaInput:
    real = Path(os.path.realpath(path))
    _check_allowed(field, given, real, allowed_dirs)
    try:
        st = real.stat()
    except FileNotFoundError:
        raise InputError(
            field, f"no file at {given}; check the path (absolute, ~ or file://) and spelling"
        ) from None
    except OSError as exc:
        raise InputError(field, f"{given} cannot be read ({exc.strerror}); check its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(
            field, f"{given} is a folder, not a file; give the path of one {rules.kind} file inside it"
        )
    if not stat.S_ISREG(st.st_mode):
        raise InputError(field, f"{given} is not a regular file; give the path of {_a(rules.kind)} file")
    if st.st_nlink > 1:
        # Another name of the same file may lie outside the allowed folders: a hard link would let
        # the allowed folders reach any file its maker could link, so hard-linked files are refused.
        raise InputError(
            field,
            f"{given} has {st.st_nlink} hard links (names for the same file), and another one may lie "
            "outside the allowed folders, so it is not read. Copy the file (cp, not ln) and pass the copy.",
        )
    if st.st_size > rules.max_bytes:
        raise InputError(field, _too_big_message(f"{given} is", st.st_size, rules))
    try:
        with real.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise InputError(field, f"{given} cannot be read ({exc.strerror}); check its permissions") from None
    fmt = sniff_kind(head)
    if fmt is None:
        raise InputError(
            field,
            f"{given} is not {_a(rules.kind)} file: its content matches no media format, whatever its name "
            f"says. {rules.what.capitalize()}s must be {_names(rules.formats)}.",
        )
    if fmt not in rules.formats:
        raise InputError(field, _wrong_format_message(f"{given} is {_a(_describe(fmt))}", fmt, rules))
    info = _probe(field, real, given)
    _check_info(field, info, rules, given)
    return MediaInput(
        field=field, param=rules.param, kind=rules.kind, source="path", value=str(real), info=info
    )


def _check_allowed(field: str, given: str, real: Path, allowed_dirs: tuple[Path, ...]) -> None:
    if not allowed_dirs:
        raise InputError(
            field,
            "local files are switched off (SEEDANCE_ALLOWED_DIRS is empty); set it to the folders media "
            "may come from, or pass an https:// URL",
        )
    for allowed in allowed_dirs:
        root = Path(os.path.realpath(allowed.expanduser()))
        try:
            inside = real.relative_to(root)
        except ValueError:
            continue
        hidden = next((part for part in inside.parts if part.startswith(".")), None)
        if hidden is not None:
            raise InputError(
                field,
                f"{given} is, or lies in, a hidden file or folder ({hidden}); hidden files are never read. "
                "Copy the media into a visible folder and pass that path.",
            )
        return
    shown = ", ".join(str(d) for d in allowed_dirs)
    raise InputError(
        field,
        f"{given} is outside the folders local files may come from ({shown}); move the file into one of "
        "them, or add its folder to SEEDANCE_ALLOWED_DIRS.",
    )


def _probe(field: str, path: Path, shown: str) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        raise InputError(
            field, f"{shown} cannot be used: {exc}. Export or download the file again."
        ) from None


def _too_big_message(subject: str, size: int, rules: _Rules) -> str:
    if rules.kind == "video":
        return (
            f"{subject} {_mb(size)}; reference videos must total under {_mb(rules.max_bytes)}. "
            "Trim or re-encode it at a lower bitrate."
        )
    fix = (
        "Compress it (e.g. save as JPEG) or scale it down."
        if rules.kind == "image"
        else "Shorten or compress it."
    )
    return f"{subject} {_mb(size)}; {rules.what}s may be at most {_mb(rules.max_bytes)} each. {fix}"


def _check_info(field: str, info: MediaInfo, rules: _Rules, shown: str) -> None:
    if info.kind != rules.kind or info.format not in rules.formats:
        raise InputError(
            field, _wrong_format_message(f"{shown} is {_a(_describe(info.format))}", info.format, rules)
        )
    if info.kind == "video":
        pixels = info.pixels or 0
        if not VIDEO_PIXELS_MIN <= pixels <= VIDEO_PIXELS_MAX:
            fix = (
                "Re-encode it at 720p or below, e.g. 1280×720 or 720×1280."
                if pixels > VIDEO_PIXELS_MAX
                else "Use a larger video, at least 480p, e.g. 854×480 or 640×640."
            )
            raise InputError(
                field,
                f"{shown} is {info.width}×{info.height} ({pixels:,} pixels); reference videos must have "
                f"between {VIDEO_PIXELS_MIN:,} (~480p) and {VIDEO_PIXELS_MAX:,} (~720p) pixels. {fix}",
            )
    if info.kind in ("video", "audio") and not info.duration:
        raise InputError(
            field, f"{shown} has no readable duration; export it again as {_names(rules.formats)}"
        )


def _check_combined(inputs: list[MediaInput]) -> float | None:
    videos = [i for i in inputs if i.kind == "video"]
    audios = [i for i in inputs if i.kind == "audio"]
    local_videos = [i.info for i in videos if i.info is not None]
    video_bytes = sum(info.size_bytes for info in local_videos)
    if video_bytes >= MAX_VIDEO_TOTAL_BYTES:
        raise InputError(
            "video_urls",
            f"the reference videos total {_mb(video_bytes)}; together they must be under "
            f"{_mb(MAX_VIDEO_TOTAL_BYTES)}. Trim them or re-encode at a lower bitrate.",
        )
    video_seconds = sum(info.duration or 0.0 for info in local_videos)
    all_local = len(local_videos) == len(videos)
    if video_seconds > VIDEO_SECONDS_MAX or (videos and all_local and video_seconds < VIDEO_SECONDS_MIN):
        fix = (
            f"Trim them to {VIDEO_SECONDS_MAX:g} s in total."
            if video_seconds > VIDEO_SECONDS_MAX
            else f"Use clips at least {VIDEO_SECONDS_MIN:g} s long in total."
        )
        which = "reference videos" if all_local else "local reference videos alone"
        raise InputError(
            "video_urls",
            f"the {which} last {video_seconds:.1f} s together; their combined duration must be "
            f"between {VIDEO_SECONDS_MIN:g} and {VIDEO_SECONDS_MAX:g} s. {fix}",
        )
    audio_seconds = sum(i.info.duration or 0.0 for i in audios if i.info is not None)
    if audio_seconds > AUDIO_SECONDS_MAX:
        raise InputError(
            "audio_urls",
            f"the reference audio lasts {audio_seconds:.1f} s in total; combined it may be at most "
            f"{AUDIO_SECONDS_MAX:g} s. Trim the clips to {AUDIO_SECONDS_MAX:g} s together.",
        )
    return round(video_seconds, 3) if all_local else None


# --- temp files for data: URIs -----------------------------------------------------------------------

_temp_lock = threading.Lock()
_temp_dir: Path | None = None


def _write_private(field: str, data: bytes, fmt: str) -> Path:
    """Write `data` to a new file only this user can read, in a folder removed when the process exits."""
    global _temp_dir
    with _temp_lock:
        if _temp_dir is None or not _temp_dir.is_dir():
            _temp_dir = Path(tempfile.mkdtemp(prefix="seedance-inputs-"))  # mode 0700
            atexit.register(shutil.rmtree, _temp_dir, ignore_errors=True)
        folder = _temp_dir
    stem = re.sub(r"[^a-z0-9]+", "-", field.lower()).strip("-")
    path = folder / f"{stem}-{uuid.uuid4().hex[:12]}.{_EXT_FOR_FORMAT.get(fmt, fmt)}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def local_file(field: str, given: str, allowed_dirs: Sequence[Path]) -> Path | None:
    """The real path of a local file named by `given` (absolute, `~` or `file://`), or None if `given`
    is not written as a local path. Refused unless it is a regular file inside an allowed folder."""
    if given[:16].lower().startswith("file:"):
        path = _file_url_path(field, given)
    elif given.startswith("~") or Path(given).is_absolute():
        path = Path(given).expanduser()
    else:
        return None
    real = Path(os.path.realpath(path))
    _check_allowed(field, given, real, tuple(allowed_dirs))
    if not real.is_file():
        what = "a folder" if real.is_dir() else "no file"
        raise InputError(field, f"{given} is {what}; give the full path of one video file")
    return real


__all__ = [
    "CheckedInputs",
    "MediaInput",
    "UrlPolicy",
    "check_frames",
    "check_references",
    "local_file",
    "release",
    "upload_inputs",
]
