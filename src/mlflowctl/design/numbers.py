"""Numbers as people write them in a prompt: digits (``5,000``, ``1.5``) or words ("five",
"a dozen", "half a")."""

from __future__ import annotations

import re

#: number words people write instead of digits
NUMBER_WORDS: dict[str, float] = {
    "a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "couple of": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "dozen": 12, "a dozen": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "twenty-four": 24, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100, "thousand": 1000,
    "a thousand": 1000, "half a": 0.5, "half": 0.5,
}  # fmt: skip
_WORDS_RE = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
#: a number in digits (``5,000``, ``1.5``) or words, not glued to a preceding word
NUM = r"(?<![\w.])(\d[\d,]*(?:\.\d+)?|" + _WORDS_RE + r")(?![\w])"
#: the same, allowing a unit letter right after it (``2k``, ``1.5M``)
NUM_SCALED = r"(?<![\w.])(\d[\d,]*(?:\.\d+)?|" + _WORDS_RE + r")"


def number(text: str) -> float:
    text = text.lower().replace(",", "").strip()
    return float(NUMBER_WORDS[text]) if text in NUMBER_WORDS else float(text)
