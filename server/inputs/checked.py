"""The checked media inputs as they travel on to the upload, and the release of their temp files."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Literal

from ..media.probe import MediaInfo, MediaKind

Source = Literal["url", "data", "path"]


@dataclass(frozen=True)
class MediaInput:
    field: str  # the parameter and index as the user wrote it, for messages: "image_urls[2]", "image_url"
    param: str  # the parameter it belongs to: "image_urls", "image_url"
    kind: MediaKind
    source: Source
    value: str  # the URL as given, or the real path of the local file (a private temp file for data:)
    info: MediaInfo | None  # probed; None only for a URL that could not be read (see the warnings)
    many: bool = False  # one of a list parameter's inputs (a reference), not a single frame


@dataclass(frozen=True)
class CheckedInputs:
    inputs: tuple[MediaInput, ...]
    warnings: tuple[str, ...]
    input_video_seconds: float | None  # sum of the probed video durations; None if one could not be read


def release(checked: CheckedInputs) -> None:
    """Delete the temp files that data: URIs were written to (also done at exit and after upload)."""
    for item in checked.inputs:
        if item.source == "data":
            with contextlib.suppress(OSError):
                os.unlink(item.value)
