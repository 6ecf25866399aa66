"""The safeguarding classifier on the real embedding model, as a worried resident notices it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from learncity.safeguarding import (
    Concern,
    Detection,
    ExamplesError,
    Reading,
    SafeguardingClassifier,
    Scores,
    detect,
    load_examples,
)
from learncity.safeguarding.classifier import EXAMPLES_PATH


class CountingEmbeddings(Embeddings):
    """The real model, counting how many messages it is asked to embed one at a time."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.queries = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed the example bank."""
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one message, and count it."""
        self.queries += 1
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def classifier(embeddings: Embeddings) -> SafeguardingClassifier:
    model = SafeguardingClassifier(embeddings=embeddings)
    model.warm_up()
    return model


@pytest.mark.parametrize(
    ("text", "concern"),
    [
        ("il vicino picchia il suo bambino, lo sento urlare ogni sera", Concern.CHILD_AT_RISK),
        ("my daughter's classmate told her her uncle touches her", Concern.SEXUAL_ABUSE),
        (
            "la maestra dice che un bambino della classe ha paura di tornare a casa dal padre",
            Concern.CHILD_AT_RISK,
        ),
        (
            "ma voisine a encore des bleus, son mari la frappe quand il boit",
            Concern.DOMESTIC_VIOLENCE,
        ),
        ("زوجي يضربني كل ليلة وأنا خائفة", Concern.DOMESTIC_VIOLENCE),
        ("mi hija de 14 años no ha vuelto a casa y no contesta", Concern.MISSING_PERSON),
        (
            "un uomo su instagram chiede foto a mia figlia di 12 anni e le dice di non dirlo",
            Concern.GROOMING,
        ),
    ],
)
def test_distress_in_many_languages_and_from_third_parties_is_flagged(
    classifier: SafeguardingClassifier, text: str, concern: Concern
) -> None:
    found = classifier.classify(text)
    assert found is not None and found.urgent
    assert concern in found.concerns


@pytest.mark.parametrize(
    "text",
    [
        "c'è un laboratorio sul bullismo per le scuole?",
        "corsi di difesa personale",
        "corso di difesa personale per donne",
        "first aid course for parents",
        "incontro sulla prevenzione della violenza domestica",
        "corsi di inglese per adulti",
        "where is the library in Librino?",
    ],
)
def test_ordinary_questions_that_share_the_words_are_not_flagged(
    classifier: SafeguardingClassifier, text: str
) -> None:
    assert classifier.classify(text) is None


def test_bullying_is_flagged_but_not_urgent(classifier: SafeguardingClassifier) -> None:
    found = classifier.classify("i compagni di classe prendono in giro mia figlia ogni giorno")
    assert found is not None and found.concern is Concern.BULLYING and not found.urgent


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙏", "?!", "x" * 10_000, "aiuto " * 2_000])
def test_odd_input_does_not_crash(classifier: SafeguardingClassifier, text: str) -> None:
    found = classifier.classify(text)
    assert found is None or isinstance(found, Detection)


def test_a_classification_costs_one_embedding_or_none_with_a_vector(
    embeddings: Embeddings,
) -> None:
    counting = CountingEmbeddings(embeddings)
    model = SafeguardingClassifier(embeddings=counting)
    model.warm_up()
    text = "mon fils n'est pas rentré depuis hier soir"
    found = model.classify(text)
    assert counting.queries == 1
    vector = np.asarray(embeddings.embed_query(text))
    again = model.classify(text, vector=vector)
    assert found is not None and again is not None
    assert again.concerns == found.concerns
    assert again.similarity == pytest.approx(found.similarity, abs=1e-5)
    assert counting.queries == 1


def test_a_vector_of_the_wrong_size_is_refused(classifier: SafeguardingClassifier) -> None:
    with pytest.raises(ValueError, match=r"vector has 3 dimensions; the embedding model has 512"):
        classifier.classify("ho paura", vector=np.ones(3))


def test_the_message_is_never_logged(
    embeddings: Embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = SafeguardingClassifier(embeddings=embeddings)
    text = "mio marito mi spinge contro il muro"
    model.classify(text)
    assert text not in caplog.text


def test_the_example_bank_covers_every_concern_and_differs_from_the_benchmark() -> None:
    bank = load_examples(EXAMPLES_PATH)
    assert {concern for concern, _ in bank.distress} == set(Concern)
    benchmark = Path(__file__).resolve().parents[2] / "benchmarks/questions/safeguarding.jsonl"
    texts = {text for _, text in bank.distress} | set(bank.ordinary)
    lines = benchmark.read_text(encoding="utf-8")
    assert '"split": "test2"' in lines and '"split": "test3"' in lines  # fresh halves too
    assert not any(f'"text": "{text}"' in lines for text in texts)


def test_a_broken_example_bank_names_the_file(tmp_path: Path, embeddings: Embeddings) -> None:
    path = tmp_path / "examples.yaml"
    path.write_text("concerns:\n  heartbreak: [sad]\nordinary: [hi]\n", encoding="utf-8")
    model = SafeguardingClassifier(embeddings=embeddings, examples_path=path)
    with pytest.raises(ExamplesError, match=r"examples\.yaml: unknown concern 'heartbreak'"):
        model.warm_up()


def test_thresholds_are_checked_at_construction(embeddings: Embeddings) -> None:
    with pytest.raises(ValueError, match=r"min_margin \(2\) must be between -1 and 1"):
        SafeguardingClassifier(embeddings=embeddings, min_margin=2)


@pytest.mark.parametrize(
    "text",
    [
        "c'è un laboratorio sul bullismo per le scuole?",
        "anti bullying assembly ideas for year 6",
        "training for volunteers at a domestic abuse charity",
    ],
)
def test_patterns_leave_questions_about_an_offer_alone(text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "mia figlia è sparita dalla lista degli iscritti al corso",
        "my son is missing from the class register",
        "my daughter is missing out on the trip, can she still sign up?",
    ],
)
def test_missing_from_a_list_is_not_a_missing_person(text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(
    "text", ["mia figlia è sparita da ieri sera", "my son is missing since this morning"]
)
def test_a_missing_person_is_still_flagged(text: str) -> None:
    found = detect(text)
    assert found is not None and found.concern is Concern.MISSING_PERSON


@pytest.mark.parametrize(
    "text",
    [
        "oficina sobre bullying para professores",
        "taller de bullying en el barrio",
        "atelier bullying au centre social",
        "Vortrag über Bullying für Eltern",
        "warsztaty o cyberbullying",
        "kurs: cyberbullying w praktyce",
        "bullying lezing voor ouders",
        "bullying semineri",
        "лекция про bullying",
    ],
)
def test_offer_words_in_every_language_keep_a_topic_word_quiet(text: str) -> None:
    assert detect(text) is None


def test_a_topic_word_without_an_offer_still_flags() -> None:
    found = detect("meu filho sofre bullying todos os dias")
    assert found is not None and found.concern is Concern.BULLYING


def test_reading_a_message() -> None:
    assert Reading.of("anything on this weekend").short
    assert not Reading.of("anything on this weekend").distress_word
    assert Reading.of("ho paura").distress_word
    assert Reading.of("我很害怕").short and Reading.of("我很害怕").distress_word
    assert not Reading.of("my neighbour's boy is alone in the flat every night, crying").short
    assert Reading.of("نادي المبارزة للأطفال").offer
    assert Reading.of("讲座什么时候开始").offer
    assert not Reading.of("my parents want me to marry my cousin").offer


def test_short_messages_need_a_closer_match_unless_they_say_distress(
    classifier: SafeguardingClassifier,
) -> None:
    scores = Scores(by_concern={Concern.SELF_HARM: 0.50}, ordinary=0.20)
    assert classifier.decide(scores) is not None
    assert classifier.decide(scores, Reading(short=True)) is None
    assert classifier.decide(scores, Reading(short=True, distress_word=True)) is not None


def test_offer_worded_messages_need_a_wider_margin(classifier: SafeguardingClassifier) -> None:
    scores = Scores(by_concern={Concern.WEAPONS: 0.60}, ordinary=0.57)
    assert classifier.decide(scores) is not None
    assert classifier.decide(scores, Reading(offer=True)) is None
    assert classifier.decide(scores, Reading(offer=True, distress_word=True)) is not None


def test_a_short_question_about_events_is_not_flagged(classifier: SafeguardingClassifier) -> None:
    assert classifier.classify("anything on this weekend") is None
