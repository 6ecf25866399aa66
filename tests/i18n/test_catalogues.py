"""The shipped catalogues are complete and sound; a broken one fails here, not in a reply."""

from __future__ import annotations

import logging

import pytest
from babel import Locale

from learncity import i18n
from learncity.i18n import (
    LOCALES_DIR,
    Catalogues,
    MissingText,
    catalog,
    default_catalogues,
    messages,
    normalize_language,
    supported_languages,
    t,
    tn,
)
from learncity.i18n_audit import audit, check_plural_rules, coverage, placeholders
from tests.i18n.conftest import WriteCatalogue


def test_every_catalogue_has_every_message_with_the_same_placeholders_and_tags() -> None:
    problems = audit(default_catalogues())

    assert [str(problem) for problem in problems] == []


def test_the_six_languages_are_the_catalogues_found() -> None:
    found = {path.parent.parent.name for path in LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")}

    assert set(supported_languages()) == found >= {"it", "en", "fr", "es", "ar", "uk"}
    assert supported_languages()[:2] == ("it", "en")
    assert supported_languages() == i18n.SUPPORTED


def test_every_language_translates_every_message() -> None:
    assert coverage(default_catalogues()) == {lang: 1.0 for lang in supported_languages()}


def test_a_missing_message_a_broken_placeholder_and_a_changed_tag_are_reported(
    write_catalogue: WriteCatalogue,
) -> None:
    italian = {"bot.hello": "Ciao <b>{name}</b>!", "bot.bye": "Ciao", "bot.n": "{n} cose"}
    write_catalogue("it", italian)
    root = write_catalogue(
        "fr", {"bot.hello": "Bonjour <i>{nom}</i> !", "bot.n": "{n choses", "bot.extra": "?"}
    )

    problems: dict[tuple[str, str], str] = {}
    for problem in audit(Catalogues(root)):
        key = (problem.lang, problem.key)
        problems[key] = problems.get(key, "") + problem.message + "\n"

    assert "missing" in problems["fr", "bot.bye"]
    assert "placeholders ['nom'] differ" in problems["fr", "bot.hello"]
    assert "HTML tags" in problems["fr", "bot.hello"]
    assert "broken placeholder" in problems["fr", "bot.n"]
    assert "not in the it catalogue" in problems["fr", "bot.extra"]
    root = write_catalogue("fr", {**italian, "bot.hello": "Bonjour <i>{name}</i> !"})
    [tag_problem] = audit(Catalogues(root))
    assert "HTML tags" in tag_problem.message


def test_a_broken_translation_falls_back_instead_of_failing_the_reply(
    write_catalogue: WriteCatalogue, caplog: pytest.LogCaptureFixture
) -> None:
    write_catalogue("it", {"bot.hello": "Ciao {name}!", "bot.only_it": "Solo italiano"})
    write_catalogue("en", {"bot.hello": "Hello {name}!"})
    root = write_catalogue("uk", {"bot.hello": "Привіт {імʼя}!"})
    catalogues = Catalogues(root)

    with caplog.at_level(logging.WARNING, logger="learncity.i18n"):
        assert catalogues.text("bot.hello", "uk", {"name": "Olena"}) == "Hello Olena!"
    assert "does not format" in caplog.text
    assert catalogues.text("bot.only_it", "uk", {}) == "Solo italiano"  # uk, then en, then it
    with pytest.raises(MissingText):
        catalogues.text("bot.nowhere", "uk", {})


def test_adding_a_language_is_adding_a_catalogue(write_catalogue: WriteCatalogue) -> None:
    write_catalogue("it", {"bot.hello": "Ciao"})
    write_catalogue("en", {"bot.hello": "Hello"})
    root = write_catalogue("de", {"bot.hello": "Hallo"})

    catalogues = Catalogues(root)

    assert catalogues.languages() == ("it", "en", "de")
    assert catalogues.text("bot.hello", "de", {}) == "Hallo"


def test_plural_forms_follow_cldr_in_every_catalogue() -> None:
    for lang in supported_languages():
        catalogue = default_catalogues().get(lang)
        assert check_plural_rules(catalogue) == [], lang
        # The gettext form index and CLDR's category split the integers the same way.
        rule = Locale.parse(lang).plural_form
        pairs = {(catalogue.plural_index(n), rule(n)) for n in range(0, 1001)}
        assert len(pairs) == len({index for index, _ in pairs}) == len({c for _, c in pairs})


def test_ukrainian_plurals_pick_one_few_many() -> None:
    rule = Locale.parse("uk").plural_form
    assert [rule(n) for n in (1, 2, 5, 21)] == ["one", "few", "many", "one"]

    texts = [tn("bot.forget.done", n, "uk") for n in (1, 2, 5, 21)]

    assert "(1 запис)" in texts[0]
    assert "(2 записи)" in texts[1]
    assert "(5 записів)" in texts[2]
    assert "(21 запис)" in texts[3]


def test_arabic_plurals_have_six_forms() -> None:
    numbers = (0, 1, 2, 3, 11, 100)
    rule = Locale.parse("ar").plural_form
    assert [rule(n) for n in numbers] == ["zero", "one", "two", "few", "many", "other"]

    texts = {tn("bot.forget.done", n, "ar") for n in numbers}

    assert len(texts) == 6
    assert "عنصران" in tn("bot.forget.done", 2, "ar")
    assert "(11 عنصرًا)" in tn("bot.forget.done", 11, "ar")


def test_t_with_count_is_tn_and_plain_keys_still_work() -> None:
    assert t("bot.forget.done", "en", count=1) == tn("bot.forget.done", 1, "en")
    assert "(1 record)" in tn("bot.forget.done", 1, "en")
    assert "(3 records)" in tn("bot.forget.done", 3, "en")
    assert t("answers.months.0", "fr") == "janvier"
    assert catalog("it")["bot.forget.done"] == messages("it")["bot.forget.done"][0]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("uk", "uk"),
        ("ar-EG", "ar"),
        ("fr_CA", "fr"),
        ("ES", "es"),
        ("en-GB", "en"),
        ("xx", "it"),
        ("pt-br", "it"),
        ("", "it"),
        (None, "it"),
        ("  ", "it"),
    ],
)
def test_unknown_language_codes_fall_back_cleanly(code: str | None, expected: str) -> None:
    assert normalize_language(code) == expected


def test_normalize_language_keeps_the_given_default() -> None:
    assert normalize_language("pt-br", default="en") == "en"


def test_placeholders_are_read_like_str_format() -> None:
    assert placeholders("{a} and {b.c} and {d[0]} {{not}}") == {"a", "b", "d"}
    with pytest.raises(ValueError):
        placeholders("{broken")
