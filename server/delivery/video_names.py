"""The names saved videos get: ours alone, so nothing the provider or the prompt says steers where a
file lands. `video_filename` is "<date>-<time>_<job id>_<slug of the prompt>.mp4"; `safe_target` refuses
any name that is not one plain file name inside the folder.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from pathlib import Path

from ..errors import VideoUnavailable
from ..journal.api import JobRecord

SLUG_MAX = 48
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}


def slugify(text: str, limit: int = SLUG_MAX) -> str:
    """A file-name-safe slug: ASCII letters, digits and dashes only; never empty, never reserved."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")
    if not slug or slug in _WINDOWS_RESERVED:
        slug = f"video-{slug}" if slug else "video"
    return slug


def safe_id(job_id: str) -> str:
    """The job id as a file-name part: unchanged for our ids (`sd_` + URL-safe letters), hashed otherwise."""
    if _SAFE_ID.fullmatch(job_id):
        return job_id
    return "x" + hashlib.sha256(job_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def video_filename(job: JobRecord) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(job.created_at))
    prompt = str(job.arguments.get("prompt", ""))
    suffix = "-simulated" if job.simulated else ""
    return f"{stamp}_{safe_id(job.id)}_{slugify(prompt)}{suffix}.mp4"


def safe_target(folder: Path, name: str) -> Path:
    """`folder/name`, refusing any name that is not one plain file name inside `folder`."""
    stem = name.split(".", 1)[0].lower()
    if not _SAFE_NAME.fullmatch(name) or ".." in name or stem in _WINDOWS_RESERVED:
        raise VideoUnavailable(f"refusing to save a video under an unsafe name: {name[:80]!r}")
    folder = folder.resolve()
    target = folder / name
    # The name is one component, so this holds by construction; keep it as the last line of defence.
    if target.parent != folder:
        raise VideoUnavailable(f"refusing to save a video outside {folder}")
    return target
