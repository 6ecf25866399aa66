"""User-facing texts in every language that has a gettext catalogue, read with Babel.

Layout: `learncity/locales/<lang>/LC_MESSAGES/messages.po`, one catalogue per language. The
`msgid` of each message is its dotted key (`bot.welcome`, `answers.months.0`) and the `msgstr`
is the text, with `{name}` placeholders for `str.format` and Telegram HTML tags where needed.
Keys, not Italian sentences, are the msgids so that rewording a text never orphans a translation;
Italian (`it`) is the reference catalogue every other one is checked against (tests/i18n).

A message with counts is a gettext plural: `msgid_plural` repeats the key and `msgstr[0..n-1]` are
the forms in the order of the catalogue's `Plural-Forms` header, which Babel writes from CLDR's
rules (`babel.messages.plurals.get_plural`); `t(key, lang, count=n)` or `tn(key, n, lang)`
picks one.

A language is supported when its catalogue exists: adding one is adding a `.po` file, no code.
A message missing in a language (absent, empty, or fuzzy) comes from English, then Italian. A text
that cannot be formatted (a broken placeholder) is logged and taken from the next language, so a
resident never sees a crash; the tests fail on it first.

The `.po` files are read directly at first use (no compile step, nothing to build on a clone).
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
REFERENCE = "it"  # the catalogue every other one is checked against
FALLBACKS = ("en", "it")  # where a missing message comes from, in order
FIRST = ("it", "en")  # listed first (the city's language, then English); others by code


class MissingText(KeyError):
    """A text key is in no catalogue."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's messages: each key maps to its forms (one, or one per plural form)."""

    lang: str
    texts: Mapping[str, tuple[str, ...]]
    plurals: frozenset[str]  # keys written as gettext plurals
    num_plurals: int
    plural_expr: str  # the C expression of the Plural-Forms header
    plural_index: Callable[[int], int]

    def template(self, key: str, count: int | None) -> str | None:
        """Return the text of `key` (the plural form for `count`), or None when it is missing."""
        forms = self.texts.get(key)
        if not forms:
            return None
        if key not in self.plurals:
            return forms[0]
        if count is None:  # a plural message asked for without a count: the general form
            return forms[-1]
        index = self.plural_index(abs(count))
        return forms[index] if 0 <= index < len(forms) and forms[index] else None


def catalogue_path(root: Path, lang: str) -> Path:
    """Return where the catalogue of `lang` lives under `root`."""
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(path: Path, lang: str) -> Catalogue:
    """Read one `.po` file; untranslated and fuzzy messages are left out (they fall back)."""
    with path.open("rb") as file:
        po = read_po(file, locale=lang, domain=DOMAIN)
    texts: dict[str, tuple[str, ...]] = {}
    plurals: set[str] = set()
    for message in po:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            key = str(message.id[0])
            forms = tuple(str(form or "") for form in message.string or ())
            plurals.add(key)
        else:
            key = str(message.id)
            forms = (str(message.string or ""),)
        if any(forms):
            texts[key] = forms
    return Catalogue(
        lang=lang,
        texts=texts,
        plurals=frozenset(plurals),
        num_plurals=po.num_plurals,
        plural_expr=po.plural_expr,
        plural_index=gettext.c2py(po.plural_expr),
    )


class Catalogues:
    """Every catalogue under one folder, read lazily and kept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[str, Catalogue] = {}
        self._languages: tuple[str, ...] | None = None

    def languages(self) -> tuple[str, ...]:
        """Return the languages that have a catalogue: Italian, English, then by code."""
        if self._languages is None:
            found = sorted(
                path.name
                for path in self.root.iterdir()
                if path.is_dir() and catalogue_path(self.root, path.name).is_file()
            )
            self._languages = tuple(
                [lang for lang in FIRST if lang in found]
                + [lang for lang in found if lang not in FIRST]
            )
        return self._languages

    def get(self, lang: str) -> Catalogue:
        """Return the catalogue of `lang` (a supported language)."""
        if lang not in self._loaded:
            if lang not in self.languages():
                raise LookupError(f"no catalogue for language {lang!r} in {self.root}")
            self._loaded[lang] = read_catalogue(catalogue_path(self.root, lang), lang)
        return self._loaded[lang]

    def chain(self, lang: str) -> list[str]:
        """Return the languages to look a message up in: `lang`, then English, then Italian."""
        order = [lang, *FALLBACKS]
        supported = self.languages()
        return [code for index, code in enumerate(order) if code in supported
                and code not in order[:index]]

    def text(
        self, key: str, lang: str, values: Mapping[str, object], count: int | None = None
    ) -> str:
        """Return `key` in `lang` (or its fallbacks), formatted with `values`."""
        for code in self.chain(lang):
            template = self.get(code).template(key, count)
            if template is None:
                continue
            if not values:
                return template
            try:
                return template.format(**values)
            except (KeyError, IndexError, ValueError, AttributeError) as error:
                log.warning("text %r in %r does not format (%s); using a fallback",
                            key, code, error)
        raise MissingText(f"no text with key {key!r} in locale {lang!r}")


@cache
def default_catalogues() -> Catalogues:
    """Return the catalogues shipped with the package."""
    return Catalogues(LOCALES_DIR)


def supported_languages() -> tuple[str, ...]:
    """Return the codes of every language with a catalogue."""
    return default_catalogues().languages()


def __getattr__(name: str) -> object:
    # `SUPPORTED` is computed on first use, not at import (importing reads no files).
    if name == "SUPPORTED":
        return supported_languages()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def messages(lang: str) -> Mapping[str, tuple[str, ...]]:
    """Return every message of the catalogue of `lang`, with all its forms."""
    return default_catalogues().get(lang).texts


def catalog(lang: str) -> dict[str, str]:
    """Return every text of `lang` keyed `area.key[.subkey]` (a plural's first form)."""
    return {key: forms[0] for key, forms in messages(lang).items()}


def normalize_language(code: str | None, default: str = "it") -> str:
    """Map a Telegram language code ("it-IT", "pt-br", "uk", None) to a supported language."""
    if code:
        short = code.replace("_", "-").split("-")[0].strip().lower()
        if short in supported_languages():
            return short
    return default


def t(key: str, lang: str, /, **values: object) -> str:
    """Return the text `key` in `lang`, formatted with `values`; `count=n` picks a plural form."""
    count = values.get("count")
    number = count if isinstance(count, int) and not isinstance(count, bool) else None
    return default_catalogues().text(key, normalize_language(lang), values, number)


def tn(key: str, count: int, lang: str, /, **values: object) -> str:
    """Return the plural text `key` in `lang` for `count` (also given to the text as `{count}`)."""
    return t(key, lang, count=count, **values)


def is_rtl(lang: str) -> bool:
    """Return True when `lang` is written right to left (CLDR, through Babel)."""
    try:
        return Locale.parse(lang).character_order == "right-to-left"
    except (ValueError, UnknownLocaleError):
        return False


def language_name(lang: str) -> str:
    """Return the button label of `lang`, in that language ("🇮🇹 Italiano", "Українська")."""
    return t("bot.language_button", lang)
