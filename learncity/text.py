"""The one text normaliser: how words are compared everywhere (search, vocabulary, filters)."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Scripts written without spaces between words (Thai, Japanese kana, Chinese ideographs): a word
# in them is found anywhere in a run of text, not only between spaces.
UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
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
