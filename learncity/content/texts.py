"""Texts in one or several languages: the language codes, `LocalizedText` and reading it.

A record's title or description is one text or a {language: text} mapping; `text_in` picks the
resident's language with fallbacks, `text_language` says which one was picked.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, StringConstraints

Lang = Literal["it", "en"]  # the languages a record is mainly written in (and indexed in)
LANGUAGES: tuple[Lang, ...] = ("it", "en")
# Any language a text may be translated into: an ISO 639 code, "fr", "ar", "uk", "ckb".
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
LanguageCode = Annotated[str, StringConstraints(pattern=LANGUAGE_CODE.pattern)]
TEXT_FALLBACKS = ("en", "it")  # after the resident's language, in order


def _localized(value: object) -> object:
    # One plain-words error instead of pydantic's two (one per union branch) that staff cannot read.
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        if not value:
            raise ValueError("needs a text (in Italian 'it:', English 'en:' or another language)")
        texts: dict[str, str] = {}
        for key, text in value.items():
            key = str(key).strip().lower()
            if not LANGUAGE_CODE.match(key):
                raise ValueError(
                    f"'{key}' is not a language code; write two letters such as it, en, fr, ar, uk"
                )
            if not isinstance(text, str | int | float) or isinstance(text, bool):
                raise ValueError(f"the '{key}' version should be a text")
            texts[key] = str(text)
        return texts
    raise ValueError("should be a text, or lines such as 'it:' and 'en:' each with a text")


# A text in one language ("Corso di italiano") or in several ({"it": "...", "en": "..."}).
LocalizedText = Annotated[str | dict[str, str], BeforeValidator(_localized)]


def _pick(value: dict[str, str], lang: str, fallback: str) -> str | None:
    for code in (lang, *TEXT_FALLBACKS, fallback):
        if value.get(code):
            return code
    return next((code for code, text in value.items() if text), None)


def text_in(value: LocalizedText | None, lang: str, fallback: str = "it") -> str:
    """Return the text of `value` in `lang`, else English, else Italian, else any language."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    code = _pick(value, lang, fallback)
    return value[code] if code is not None else ""


def text_language(value: LocalizedText | None, lang: str, written_in: str = "it") -> str:
    """Return the language `text_in(value, lang)` is in (`written_in` for a one-language text).

    Callers compare it with `lang` to say so when they fall back ("described in Italian:").
    """
    if isinstance(value, dict):
        return _pick(value, lang, written_in) or written_in
    return written_in


def all_texts(value: LocalizedText | None) -> list[str]:
    """Return every language version of `value` (for indexing)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [text for text in value.values() if text]
