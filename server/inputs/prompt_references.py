"""The `@Image2` / `[Video1]` tokens in a prompt, checked against the media given."""

from __future__ import annotations

import re
from typing import Final

from ..catalogue.facts import MAX_AUDIOS, MAX_IMAGES, MAX_VIDEOS
from ..errors import InputError

MAX_REFERENCE_DIGITS: Final = 3  # "@Image12" is already past every limit; longer numbers are not parsed

# A token counts only on its own: "me@image1.com" and "@Image1x" are not references, "(@Image1)." is.
_REFERENCE = re.compile(
    r"(?<![\w@])@(image|video|audio)(\d+)(?![\w@]|\.\w)|\[(image|video|audio)\s*(\d+)\]", re.IGNORECASE
)


def references(prompt: str) -> list[tuple[str, int, str]]:
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


def check_prompt_references(prompt: str, images: int, videos: int, audios: int) -> list[str]:
    counts = {
        "image": (images, "image_urls"),
        "video": (videos, "video_urls"),
        "audio": (audios, "audio_urls"),
    }
    used: set[tuple[str, int]] = set()
    for kind, number, written in references(prompt):
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
