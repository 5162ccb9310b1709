"""The two entry points, `check_frames` and `check_references`: every documented limit, before
anything is uploaded or paid for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import anyio

from ..catalogue.declaration import MediaLimits
from ..catalogue.endpoints import LIMITS_2_0
from ..errors import InputError
from ..media.remote import UrlPolicy
from .checked import CheckedInputs, MediaInput, release
from .combined_limits import check_combined, check_counts
from .data_uris import check_data
from .local_files import check_path, user_path
from .prompt_references import check_prompt_references, references
from .rules import AUDIO, END, IMAGE, START, VIDEO, Rules
from .urls import check_probe, check_url, probe_urls


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
    wanted: list[tuple[str, str, Rules]] = [("image_url", image_url, START)]
    if end_image_url:
        wanted.append(("end_image_url", end_image_url, END))
    warnings: list[str] = []
    if references(prompt):
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
    limits: MediaLimits = LIMITS_2_0,
) -> CheckedInputs:
    """Check reference-to-video media against every documented limit of the endpoint (`limits`);
    nothing is uploaded.

    `urls` as for `check_frames`; a probed URL video's duration counts in `input_video_seconds`."""
    images, videos, audios = list(image_urls or ()), list(video_urls or ()), list(audio_urls or ())
    check_counts(images, videos, audios, limits)
    warnings = check_prompt_references(prompt, len(images), len(videos), len(audios))
    wanted = [
        *((f"image_urls[{i}]", v, IMAGE) for i, v in enumerate(images)),
        *((f"video_urls[{i}]", v, VIDEO) for i, v in enumerate(videos)),
        *((f"audio_urls[{i}]", v, AUDIO) for i, v in enumerate(audios)),
    ]
    inputs, unchecked = await _check_all(wanted, tuple(allowed_dirs), urls)
    try:
        seconds = check_combined(inputs)
    except InputError:
        release(CheckedInputs(tuple(inputs), (), None))
        raise
    return CheckedInputs(inputs=tuple(inputs), warnings=(*warnings, *unchecked), input_video_seconds=seconds)


async def _check_all(
    wanted: list[tuple[str, str, Rules]], allowed_dirs: tuple[Path, ...], urls: UrlPolicy | None
) -> tuple[list[MediaInput], list[str]]:
    """Every input checked: local files and data URIs in a worker thread, then all URLs at once."""
    inputs = await anyio.to_thread.run_sync(_check_each, wanted, allowed_dirs)
    remote = [i for i in inputs if i.source == "url"]
    if urls is None or not remote:
        return inputs, []
    rules = {field: r for field, _, r in wanted}
    try:
        probes = await probe_urls([(i.field, i.value, rules[i.field]) for i in remote], urls)
        checked = {
            item.field: check_probe(item, probe, rules[item.field])
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


def _check_each(wanted: list[tuple[str, str, Rules]], allowed_dirs: tuple[Path, ...]) -> list[MediaInput]:
    """Runs in a worker thread: stats, sniffs and probes local files, decodes data URIs."""
    done: list[MediaInput] = []
    try:
        for field, value, rules in wanted:
            done.append(_check_one(field, value.strip(), rules, allowed_dirs))
    except BaseException:
        release(CheckedInputs(tuple(done), (), None))
        raise
    return done


def _check_one(field: str, value: str, rules: Rules, allowed_dirs: tuple[Path, ...]) -> MediaInput:
    if "\x00" in value:
        raise InputError(
            field, "contains a NUL character (\\0), which no path or URL can hold; pass the name without it"
        )
    lowered = value[:16].lower()
    if lowered.startswith("data:"):
        return check_data(field, value, rules)
    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", value)
    if scheme and not lowered.startswith("file:") and not re.match(r"[a-zA-Z]:[\\/]", value):
        return check_url(field, value, scheme.group(1).lower(), rules)  # "C:\..." is a Windows path
    path = user_path(field, value)
    if path is None:
        raise InputError(
            field,
            f"{value[:200]!r} is neither a URL nor an absolute path. Give an https:// URL, a data: URI, or "
            "the file's full path (starting with / or ~).",
        )
    return check_path(field, value, path, rules, allowed_dirs)
