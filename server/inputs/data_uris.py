"""`data:` URIs: decoded, checked like a local file and written to a private temp file for upload."""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import os
import re
import shutil
import tempfile
import threading
import urllib.parse
import uuid
from pathlib import Path
from typing import Final

from ..errors import InputError
from ..media.probe import MIME, sniff_kind
from .checked import MediaInput
from .local_files import probe_file
from .rules import (
    Rules,
    a_or_an,
    check_info,
    describe,
    names,
    too_big_message,
    wrong_format_message,
)

# The mime types a data: URI may declare, and the format each names: each format's own type, and the
# other names browsers and tools write for it.
_MIME_FORMATS: Final[dict[str, str]] = {
    **{mime: fmt for fmt, mime in MIME.items()},
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "audio/mp3": "mp3",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
}
_EXT_FOR_FORMAT: Final = {"jpeg": "jpg"}


def check_data(field: str, value: str, rules: Rules) -> MediaInput:
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
            f"the data: URI declares {mime!r}; {rules.what}s must be {names(rules.formats)} "
            f"(e.g. data:{_mime_of(rules.formats[0])};base64,...).",
        )
    if declared is not None and declared not in rules.formats:
        raise InputError(
            field,
            wrong_format_message(f"the data: URI declares {mime} ({describe(declared)})", declared, rules),
        )
    payload = re.sub(r"\s+", "", urllib.parse.unquote(payload) if "%" in payload else payload)
    # Refuse an oversized payload from its length alone, before spending memory on decoding it.
    decoded_size = len(payload) * 3 // 4 - payload[-2:].count("=")
    if decoded_size > rules.max_bytes:
        raise InputError(field, too_big_message("the data: URI holds", decoded_size, rules))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(field, "the data: URI's base64 content is invalid; encode the file again") from None
    fmt = sniff_kind(data[:64])
    if fmt is None:
        raise InputError(
            field,
            f"the data: URI's content is not media we recognise; "
            f"{rules.what}s must be {names(rules.formats)}",
        )
    if declared is not None and fmt != declared:
        raise InputError(
            field,
            f"the data: URI says {mime} but its content is {describe(fmt)}; make the mime type match the "
            f"content (data:{_mime_of(fmt)};base64,...) or encode the right file.",
        )
    if fmt not in rules.formats:
        raise InputError(
            field, wrong_format_message(f"the data: URI holds {a_or_an(describe(fmt))}", fmt, rules)
        )
    path = _write_private(field, data, fmt)
    try:
        info = probe_file(field, path, "the data: URI's content")
        check_info(field, info, rules, "the data: URI's content")
    except InputError:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return MediaInput(
        field=field,
        param=rules.param,
        kind=rules.kind,
        source="data",
        value=str(path),
        info=info,
        many=rules.many,
    )


def _mime_of(fmt: str) -> str:
    return MIME.get(fmt, "application/octet-stream")


# One private folder per process for the decoded copies, made on first use and removed at exit.
_temp_lock = threading.Lock()
_temp_dir: Path | None = None


def _write_private(field: str, data: bytes, fmt: str) -> Path:
    """Write `data` to a new file only this user can read, in a folder removed when the process exits."""
    global _temp_dir
    with _temp_lock:
        if _temp_dir is None or not _temp_dir.is_dir():
            # mode 0700; the pid says which process a leftover folder belonged to
            _temp_dir = Path(tempfile.mkdtemp(prefix=f"seedance-inputs-{os.getpid()}-"))
            atexit.register(shutil.rmtree, _temp_dir, ignore_errors=True)
        folder = _temp_dir
    stem = re.sub(r"[^a-z0-9]+", "-", field.lower()).strip("-")
    path = folder / f"{stem}-{uuid.uuid4().hex[:12]}.{_EXT_FOR_FORMAT.get(fmt, fmt)}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path
