"""Write small gettext catalogues in a temporary folder (a broken one must fail the checks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from learncity.i18n import catalogue_path

Texts = Mapping[str, str | tuple[str, ...]]
WriteCatalogue = Callable[[str, Texts], Path]


@pytest.fixture
def write_catalogue(tmp_path: Path) -> WriteCatalogue:
    """Return a function that writes `<tmp>/<lang>/LC_MESSAGES/messages.po` from key -> text."""

    def write(lang: str, texts: Texts) -> Path:
        catalog = Catalog(locale=lang, domain="messages", fuzzy=False)
        for key, text in texts.items():
            if isinstance(text, tuple):
                catalog.add((key, key), text)
            else:
                catalog.add(key, text)
        path = catalogue_path(tmp_path, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            write_po(file, catalog)
        return tmp_path

    return write
