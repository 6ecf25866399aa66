"""The one text normaliser: how words are compared everywhere (search, vocabulary, filters)."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Return `text` lower-cased, without accents and with single spaces (for matching words)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.replace("\u2019", "'")  # the typographic apostrophe: "l’inglese" is "l'inglese"
    return _SPACES.sub(" ", plain).strip()
