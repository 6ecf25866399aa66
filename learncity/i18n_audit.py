"""Check every catalogue against the Italian one: same messages, placeholders, HTML tags, plurals.

Used by the tests (a broken catalogue fails CI, not a resident's reply) and by
`benchmarks/languages.py` (the share of messages each language has).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

from babel.messages.plurals import get_plural

from learncity.i18n import REFERENCE, Catalogue, Catalogues

_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*>")
_LIST = re.compile(r"^[^\s,]+(?:,[^\s,]+)+$")  # "lun,mar,mer": split by code, item count matters


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one message of one catalogue."""

    lang: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.lang}: {self.key}: {self.message}"


def placeholders(text: str) -> frozenset[str]:
    """Return the `{name}` fields of a `str.format` template; raise ValueError when it is broken."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    return frozenset(names)


def tags(text: str) -> Counter[str]:
    """Return the HTML tags of a text, as `b`, `/b`, `a`, `/a`... with their counts."""
    return Counter(
        ("/" if match.group(0).startswith("</") else "") + match.group(1).lower()
        for match in _TAG.finditer(text)
    )


def _fields(lang: str, key: str, text: str) -> tuple[frozenset[str] | None, Problem | None]:
    try:
        return placeholders(text), None
    except ValueError as error:
        return None, Problem(lang, key, f"broken placeholder in {text!r}: {error}")


def check_plural_rules(catalogue: Catalogue) -> list[Problem]:
    """Return a problem when the catalogue's Plural-Forms differ from CLDR's (through Babel)."""
    expected = get_plural(catalogue.lang)
    if catalogue.num_plurals != expected.num_plurals or (
        catalogue.plural_expr.replace(" ", "").strip("()")
        != expected.plural_expr.replace(" ", "").strip("()")
    ):
        return [
            Problem(
                catalogue.lang,
                "Plural-Forms",
                f"header says {catalogue.num_plurals} forms '{catalogue.plural_expr}', CLDR says "
                f"{expected.num_plurals} forms '{expected.plural_expr}'",
            )
        ]
    return []


def check_message(
    reference: Catalogue, catalogue: Catalogue, key: str
) -> list[Problem]:
    """Return what is wrong with `key` in `catalogue` compared with the reference catalogue."""
    lang = catalogue.lang
    forms = catalogue.texts.get(key)
    if not forms:
        return [Problem(lang, key, f"missing (the {reference.lang} catalogue has it)")]
    ref_forms = reference.texts[key]
    problems: list[Problem] = []
    expected: set[str] = set()
    for text in ref_forms:
        fields, problem = _fields(reference.lang, key, text)
        if problem is not None:
            return [problem]
        expected |= fields or set()
    if key in reference.plurals:
        if key not in catalogue.plurals:
            problems.append(Problem(lang, key, "should be a plural message (msgid_plural)"))
        elif len(forms) != catalogue.num_plurals or not all(forms):
            problems.append(
                Problem(lang, key, f"needs {catalogue.num_plurals} plural forms, has "
                        f"{sum(1 for form in forms if form)}")
            )
    elif key in catalogue.plurals:
        problems.append(Problem(lang, key, "is a plural here but not in the reference"))
    ref_tags = tags(ref_forms[-1])
    for text in forms:
        if not text:
            continue
        fields, problem = _fields(lang, key, text)
        if problem is not None or fields is None:
            problems += [problem] if problem else []
            continue
        # A plural form may leave the number out ("un élément"), nothing else.
        if fields != expected and not (fields | {"count"} == expected and key in reference.plurals):
            problems.append(
                Problem(lang, key, f"placeholders {sorted(fields)} differ from "
                        f"{reference.lang}'s {sorted(expected)}")
            )
        if tags(text) != ref_tags:
            problems.append(
                Problem(lang, key, f"HTML tags {dict(tags(text))} differ from "
                        f"{reference.lang}'s {dict(ref_tags)}")
            )
        if _LIST.match(ref_forms[0]) and text.count(",") != ref_forms[0].count(","):
            problems.append(
                Problem(lang, key, f"a comma list of {text.count(',') + 1} items; "
                        f"{reference.lang} has {ref_forms[0].count(',') + 1}")
            )
    return problems


def audit(catalogues: Catalogues, reference: str = REFERENCE) -> list[Problem]:
    """Return every problem of every catalogue (an empty list when all are complete and sound)."""
    ref = catalogues.get(reference)
    problems: list[Problem] = []
    for lang in catalogues.languages():
        catalogue = catalogues.get(lang)
        problems += check_plural_rules(catalogue)
        for key in ref.texts:
            problems += check_message(ref, catalogue, key)
        problems += [
            Problem(lang, key, f"not in the {reference} catalogue (a typo, or a text to add there)")
            for key in catalogue.texts
            if key not in ref.texts
        ]
    return problems


def coverage(catalogues: Catalogues, reference: str = REFERENCE) -> dict[str, float]:
    """Return, for each language, the share of the reference's messages it translates."""
    ref = catalogues.get(reference)
    total = len(ref.texts)
    return {
        lang: sum(1 for key in ref.texts if catalogues.get(lang).texts.get(key)) / total
        for lang in catalogues.languages()
    }
