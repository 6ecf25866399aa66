"""User-facing texts in Italian and English, loaded from `learncity/locales/<lang>/*.yaml`.

Each area keeps its own file (`answers.yaml`, `bot.yaml`, `flows.yaml`, `reminders.yaml`), with keys
prefixed by the file name: `bot.welcome` is key `welcome` in `bot.yaml`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LOCALES_DIR = Path(__file__).parent / "locales"
SUPPORTED = ("it", "en")


class MissingText(KeyError):
    """A text key is in no locale file."""


def _flatten(prefix: str, tree: dict[str, Any], into: dict[str, str]) -> None:
    for key, value in tree.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(name, value, into)
        else:
            into[name] = str(value)


@cache
def catalog(lang: str) -> dict[str, str]:
    """Return every text of `lang`, keyed `file.key[.subkey]`."""
    texts: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.yaml")):
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        _flatten(path.stem, tree, texts)
    return texts


def normalize_language(code: str | None, default: str = "it") -> str:
    """Map a Telegram language code ("it-IT", "en-GB", None) to a supported language."""
    if code:
        short = code.split("-")[0].lower()
        if short in SUPPORTED:
            return short
    return default


def t(key: str, lang: str, /, **values: object) -> str:
    """Return the text `key` in `lang` (English if missing there), formatted with `values`."""
    texts = catalog(normalize_language(lang))
    template = texts.get(key) or catalog("en").get(key)
    if template is None:
        raise MissingText(f"no text with key {key!r} in locale {lang!r}")
    return template.format(**values) if values else template
