"""Texts in any language: the validator accepts language codes, `text_in` falls back en -> it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from learncity.content.documents import chunks_for_file
from learncity.content.guides import language_from_filename, title_from_filename
from learncity.content.loader import load_knowledge
from learncity.content.models import GuideMeta, LocalizedText, Programme, text_in, text_language

TEXT: TypeAdapter[LocalizedText] = TypeAdapter(LocalizedText)


def test_a_text_may_have_any_language_code() -> None:
    value = TEXT.validate_python(
        {"it": "Corso di italiano", "en": "Italian course", "fr": "Cours d'italien",
         "ar": "دورة اللغة الإيطالية", "UK": "Курс італійської"}
    )

    assert isinstance(value, dict)
    assert set(value) == {"it", "en", "fr", "ar", "uk"}


@pytest.mark.parametrize("key", ["italiano", "e1", "pt-br", ""])
def test_a_key_that_is_not_a_language_code_is_refused_in_plain_words(key: str) -> None:
    with pytest.raises(ValidationError, match="is not a language code"):
        TEXT.validate_python({"it": "Ciao", key: "x"})


def test_text_in_prefers_the_language_then_english_then_italian() -> None:
    title = {"it": "Corso", "en": "Course", "ar": "دورة"}

    assert text_in(title, "ar") == "دورة"
    assert text_in(title, "uk") == "Course"
    assert text_in({"it": "Corso", "fr": "Cours"}, "uk") == "Corso"
    assert text_in({"fr": "Cours"}, "uk") == "Cours"
    assert text_in("Corso", "uk") == "Corso"
    assert text_in(None, "uk") == ""


def test_text_language_says_when_the_text_fell_back() -> None:
    title = {"it": "Corso", "en": "Course", "ar": "دورة"}

    assert text_language(title, "ar") == "ar"
    assert text_language(title, "uk") == "en"
    assert text_language({"it": "Corso"}, "fr") == "it"
    assert text_language("Corso", "fr") == "it"  # one-language text: the record's language
    assert text_language("Course", "fr", written_in="en") == "en"


def test_the_sample_folder_has_records_in_french_arabic_and_ukrainian(
    sample_knowledge_dir: Path,
) -> None:
    kb = load_knowledge(sample_knowledge_dir)

    translated = [
        record for record in kb.programmes.values()
        if isinstance(record.title, dict) and {"fr", "ar", "uk"} <= set(record.title)
    ]
    assert len(translated) >= 2
    for record in translated:
        assert isinstance(record, Programme)
        assert text_language(record.description, "ar") == "ar"
        assert text_language(record.description, "es") == "en"
    path = kb.path_of(translated[0].id)
    assert chunks_for_file(kb.files[path])  # extra languages do not break indexing


def test_guides_declare_any_language_in_front_matter_or_file_name() -> None:
    assert GuideMeta.model_validate({"lang": "ar"}).language == "ar"
    assert GuideMeta.model_validate({"language": "uk"}).language == "uk"
    assert language_from_filename("guides/iscrizioni-scuola.fr.md") == "fr"
    assert language_from_filename("guides/iscrizioni-scuola.md") is None
    assert language_from_filename("guides/notes.old.md") is None
    assert title_from_filename("guides/iscrizioni-scuola.ar.md") == "Iscrizioni scuola"
