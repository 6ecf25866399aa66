"""Flows in more languages: any language key in the YAML, one language per flow, said once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flows.definitions import FlowDefinition, load_definitions
from flows.service import FlowService
from flows.store import FlowStore
from learncity.db import make_engine
from learncity.i18n import t

FLOW = """\
id: tiny
minutes: 1
title: {it: Prova, en: Trial, fr: Essai}
intro: {it: Due domande., en: Two questions., fr: Deux questions.}
disclaimer: {it: Non è un test., en: Not a test., fr: Ce n'est pas un test.}
areas:
  - id: personal
    name: {it: Personale, en: Personal, fr: Personnel}
competences:
  - id: self-regulation
    area: personal
    name: {it: Autoregolazione, en: Self-regulation, fr: Autorégulation}
    description: {it: Gestire sé stessi., en: Managing oneself., fr: Se gérer.}
items:
  - id: a1
    competence: self-regulation
    text: {it: Mantengo la calma., en: I keep calm., fr: Je garde mon calme.}
  - id: a2
    competence: self-regulation
    text: SECOND
scale:
  options:
    - {value: 1, label: {it: Per niente, en: Not at all, fr: Pas du tout}}
    - {value: 2, label: {it: Molto, en: Very much, fr: Beaucoup}}
scoring:
  bands:
    - {min: 1, label: {it: Basso, en: Low, fr: Bas}, advice: {it: Ok, en: Ok, fr: Ok}}
"""
SECOND_ALL = "{it: Mi organizzo., en: I organise myself., fr: Je m'organise.}"
SECOND_NO_FR = "{it: Mi organizzo., en: I organise myself.}"


def _service(tmp_path: Path, second: str) -> FlowService:
    folder = tmp_path / "knowledge" / "assessments"
    folder.mkdir(parents=True)
    (folder / "tiny.yaml").write_text(FLOW.replace("SECOND", second), encoding="utf-8")
    store = FlowStore(engine=make_engine(f"sqlite:///{tmp_path / 'flows.sqlite3'}"))
    store.create_schema()
    service = FlowService(assessments_dir=folder, store=store, programmes=dict)
    assert service.errors == []
    return service


def test_any_language_key_is_accepted_and_used(tmp_path: Path) -> None:
    service = _service(tmp_path, SECOND_ALL)
    flow = service.definition("tiny")
    assert flow.languages() == ("it", "en", "fr")
    assert flow.language_for("fr") == "fr"

    assert service.language_notice("tiny", lang="fr") is None
    assert service.intro("tiny", lang="fr").count("Deux questions.") == 1
    step = service.start(1, "tiny", lang="fr")
    assert "Je garde mon calme." in step.text and "Autorégulation" in step.text
    assert [option.label for option in step.options] == ["Pas du tout", "Beaucoup"]


def test_a_partial_translation_runs_the_whole_flow_in_english(tmp_path: Path) -> None:
    service = _service(tmp_path, SECOND_NO_FR)
    flow = service.definition("tiny")
    assert flow.languages() == ("it", "en")
    assert flow.language_for("fr") == "en" and flow.language_for("it") == "it"

    intro = service.intro("tiny", lang="fr")
    notice = t(
        "flows.language_fallback", "fr", languages="italien et anglais", language="anglais"
    )
    assert intro.startswith(notice)
    assert "Two questions." in intro and "Deux" not in intro  # not half French, half English
    first = service.start(1, "tiny", lang="fr")
    assert "I keep calm." in first.text
    assert [option.label for option in first.options] == ["Not at all", "Very much"]
    second = service.answer(1, "tiny", 1, at=0, lang="fr")
    assert "I organise myself." in getattr(second, "text", "")


def test_a_text_without_language_keys_counts_as_italian(tmp_path: Path) -> None:
    service = _service(tmp_path, "Mi organizzo.")
    flow = service.definition("tiny")
    assert flow.languages() == ("it",)
    assert flow.language_for("en") == "it"
    notice = service.language_notice("tiny", lang="en")
    assert notice == t("flows.language_fallback", "en", languages="Italian", language="Italian")


@pytest.mark.parametrize(
    ("lang", "languages", "language"),
    [
        ("ar", "الإيطالية والإنجليزية", "الإنجليزية"),
        ("uk", "італійська і англійська", "англійська"),
        ("es", "italiano y inglés", "inglés"),
    ],
)
def test_the_notice_names_the_languages_in_the_residents_language(
    make_service: Callable[[], FlowService], lang: str, languages: str, language: str
) -> None:
    service = make_service()
    expected = t("flows.language_fallback", lang, languages=languages, language=language)
    for flow_id in ("lifecomp-quick", "lifecomp-full", "digcomp-quick"):
        assert service.language_notice(flow_id, lang=lang) == expected
        assert service.intro(flow_id, lang=lang).startswith(expected)
    for lang_with_texts in ("it", "en"):
        assert service.language_notice("lifecomp-quick", lang=lang_with_texts) is None


def test_shipped_flows_have_italian_and_english(shipped: dict[str, FlowDefinition]) -> None:
    for flow in shipped.values():
        assert flow.languages()[:2] == ("it", "en")


def test_a_bad_language_key_is_reported_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge" / "assessments"
    folder.mkdir(parents=True)
    broken = FLOW.replace("SECOND", SECOND_ALL).replace("fr: Je garde", "french: Je garde")
    (folder / "tiny.yaml").write_text(broken, encoding="utf-8")
    flows, errors = load_definitions(folder)
    assert flows == {}
    [error] = errors
    assert "'french' is not a language code" in error.message
    lines = broken.splitlines()
    assert error.line == next(n for n, line in enumerate(lines, start=1) if "french:" in line)
