"""Refusals that retrying cannot fix, as one answer whichever provider gave them."""

from __future__ import annotations

from typing import Final

REAL_PERSON_LIKENESS: Final = "real_person_likeness"  # fal's `ctx.reason`; our error type for it
# Oxen words the same refusal in its failure message.
LIKENESS_WORDS: Final = "likenesses of real people"

LIKENESS_ADVICE: Final = (
    "The model will not show a recognisable real person, so sending the same image again will be refused "
    "again: do not retry with it. Use an image without a real face (an illustration, a stylised or "
    "generated character, the scene without the person), or describe the person in the prompt instead. "
    "Refused jobs are not charged and count nothing against the budget."
)


def is_likeness(text: str) -> bool:
    return LIKENESS_WORDS in text.lower()
