"""Local paths (absolute, `~`, `file://`): read only inside the allowed folders, never a hidden
one nor through a hard link, and only when the content is media of an accepted type."""

from __future__ import annotations

import os
import stat
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..media.probe import MediaError, MediaInfo, probe, sniff_kind
from .checked import MediaInput
from .rules import (
    Rules,
    a_or_an,
    check_info,
    describe,
    names,
    too_big_message,
    wrong_format_message,
)


def file_url_path(field: str, value: str) -> Path:
    parts = urllib.parse.urlsplit(value)
    if parts.netloc not in ("", "localhost"):
        raise InputError(
            field, f"file:// URLs must point at this machine, not {parts.netloc!r}; give a local path"
        )
    return home_path(field, urllib.parse.unquote(parts.path))


def home_path(field: str, value: str) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~someone" with no such user on this machine
        user = value[1:].split("/", 1)[0].split("\\", 1)[0]
        raise InputError(
            field,
            f"there is no user named {user!r} on this machine (from {value[: len(user) + 1]}); give "
            "the full path, or ~/ for your own home folder",
        ) from None


def check_path(
    field: str, given: str, path: Path, rules: Rules, allowed_dirs: tuple[Path, ...]
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
        raise InputError(field, f"{given} is not a regular file; give the path of {a_or_an(rules.kind)} file")
    if st.st_nlink > 1:
        # Another name of the same file may lie outside the allowed folders: a hard link would let
        # the allowed folders reach any file its maker could link, so hard-linked files are refused.
        raise InputError(
            field,
            f"{given} has {st.st_nlink} hard links (names for the same file), and another one may lie "
            "outside the allowed folders, so it is not read. Copy the file (cp, not ln) and pass the copy.",
        )
    if st.st_size > rules.max_bytes:
        raise InputError(field, too_big_message(f"{given} is", st.st_size, rules))
    try:
        with real.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise InputError(field, f"{given} cannot be read ({exc.strerror}); check its permissions") from None
    fmt = sniff_kind(head)
    if fmt is None:
        raise InputError(
            field,
            f"{given} is not {a_or_an(rules.kind)} file: its content matches no media format, whatever its "
            f"name says. {rules.what.capitalize()}s must be {names(rules.formats)}.",
        )
    if fmt not in rules.formats:
        raise InputError(field, wrong_format_message(f"{given} is {a_or_an(describe(fmt))}", fmt, rules))
    info = probe_file(field, real, given)
    check_info(field, info, rules, given)
    return MediaInput(
        field=field,
        param=rules.param,
        kind=rules.kind,
        source="path",
        value=str(real),
        info=info,
        many=rules.many,
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


def probe_file(field: str, path: Path, shown: str) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        raise InputError(
            field, f"{shown} cannot be used: {exc}. Export or download the file again."
        ) from None


def local_file(field: str, given: str, allowed_dirs: Sequence[Path]) -> Path | None:
    """The real path of a local file named by `given` (absolute, `~` or `file://`), or None if `given`
    is not written as a local path. Refused unless it is a regular file inside an allowed folder."""
    if given[:16].lower().startswith("file:"):
        path = file_url_path(field, given)
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
