"""The one text normaliser: how words are compared everywhere (search, vocabulary, filters)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_SPACES = re.compile(r"\s+")
# Scripts written without spaces between words (Thai, Japanese kana, Chinese ideographs): a word
# in them is found anywhere in a run of text, not only between spaces.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
# Letters that carry no accent mark to strip, typed without one on an ASCII keyboard:
# Polish "ł" ("szkoła" is "szkola"), Turkish dotless "ı" ("sınavı" is "sinavi"), and their kin.
_PLAIN_LETTERS = str.maketrans({"ł": "l", "ı": "i", "ø": "o", "đ": "d", "ħ": "h"})


def fold(text: str) -> str:
    """Return `text` lower-cased, without accents and with single spaces (for matching words)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    # The typographic apostrophe: "l’inglese" is "l'inglese".
    plain = plain.translate(_PLAIN_LETTERS).replace("\u2019", "'")
    return _SPACES.sub(" ", plain).strip()


def word_pattern(words: Iterable[str], *, any_ending: str = r"\w*") -> re.Pattern[str]:
    """Return a pattern matching any of `words` (folded; a trailing "*" allows any ending, as
    `any_ending` says) as whole words, longest first; a word in a script written without spaces
    (Chinese, Japanese, Thai) matches anywhere in the text. No words: it never matches."""
    spaced: list[str] = []
    unspaced: list[str] = []
    for word in words:
        alternative = re.escape(fold(word)).replace(r"\*", any_ending)
        (unspaced if _UNSPACED.search(word) else spaced).append(alternative)
    parts = []
    if spaced:
        parts.append(r"(?<!\w)(?:" + "|".join(sorted(spaced, key=len, reverse=True)) + r")(?!\w)")
    if unspaced:
        parts.append("(?:" + "|".join(sorted(unspaced, key=len, reverse=True)) + ")")
    return re.compile("|".join(parts) or r"(?!)")
