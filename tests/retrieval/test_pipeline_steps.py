"""Each step of the answer pipeline on its own: language, small talk, follow-ups, rank, gate,
passage. Real model where meaning matters; plain values elsewhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import retrieval
from retrieval.compose import answering_facts, outmatching_record
from retrieval.conversation import (
    Context,
    Reading,
    after_answer,
    asked_sentence,
    leaning_reading,
    read_follow_up,
    without_cues,
)
from retrieval.examples import ExampleBank
from retrieval.gate import GateModel, RelevanceGate
from retrieval.language import LanguageIdentifier
from retrieval.lexical import tokenize
from retrieval.passage import PassageComposer
from retrieval.rank import rank_documents
from retrieval.smalltalk import SmalltalkDetector
from retrieval.types import Answer, Card, Chunk, Hit

DATA = Path(retrieval.__file__).parent / "data"


def hit(path: str, score: float, *, dense: float = 0.0, record: str | None = None) -> Hit:
    meta: dict[str, str | int | float | bool] = {"path": path, "title": path, "lang": "it"}
    meta["kind"] = "guide" if record is None else "programme"
    if record is not None:
        meta["record_id"] = record
    chunk = Chunk(id=f"{path}-{score}", text=f"{path}\n\ntext {score}", metadata=meta)
    return Hit(chunk=chunk, score=score, dense=dense or score)


# --- language --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("corsi di informatica per anziani a Catania", "it"),
        ("how much does the evening course cost?", "en"),
        ("Où puis-je apprendre l'italien gratuitement ?", "fr"),
        ("¿Dónde inscribo a mi hijo en la escuela?", "es"),
        ("Як записати дитину до школи?", "uk"),
        ("Cum pot învăța limba italiană gratuit?", "ro"),
        ("أين أتعلم اللغة الإيطالية؟", "ar"),
        ("我想学意大利语", "zh"),
    ],
)
def test_the_question_language_is_told_offline(text: str, lang: str) -> None:
    found = LanguageIdentifier().identify(text)
    assert found is not None and found.lang == lang


@pytest.mark.parametrize("text", ["ok", "👍👍", "???", "", "\u200b\u200b"])
def test_too_little_to_tell_keeps_the_conversation_language(text: str) -> None:
    assert LanguageIdentifier().language_of(text, fallback="fr") == "fr"


# --- small talk --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smalltalk(embeddings) -> SmalltalkDetector:
    return SmalltalkDetector(
        bank=ExampleBank.from_file(DATA / "smalltalk.yaml", embeddings=embeddings)
    )


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("ciao!", "greeting"),
        ("Grazie mille", "thanks"),
        ("merci beaucoup", "thanks"),
        ("what can you do?", "capabilities"),
        ("cosa sai fare?", "capabilities"),
        ("Buonasera!", "greeting"),
        ("thank you so much", "thanks"),
        ("amazing, thanks so much!!", "thanks"),
        ("ok perfetto, grazie, gentilissimi", "thanks"),
        ("super, bye for now", "goodbye"),
    ],
)
def test_small_talk_is_recognised(
    smalltalk: SmalltalkDetector, embeddings, text: str, intent: str
) -> None:
    vector = np.asarray(embeddings.embed_query(text), dtype=np.float32)
    assert smalltalk.intent(text, vector) == intent


@pytest.mark.parametrize(
    "text",
    [
        "ciao, ci sono corsi di inglese per adulti la sera?",
        "corsi gratis",
        "aiuto compiti",
        "grazie al corso ho trovato lavoro, ce ne sono altri?",
        "grazie, e quanto costa?",
    ],
)
def test_questions_are_not_small_talk(smalltalk: SmalltalkDetector, embeddings, text: str) -> None:
    vector = np.asarray(embeddings.embed_query(text), dtype=np.float32)
    assert smalltalk.intent(text, vector) is None


# --- follow-ups --------------------------------------------------------------------------------
NEVER, ALWAYS = (lambda: False), (lambda: True)  # whether the message names an uncovered topic
SHOWN = Context(
    lang="it", questions=("corso di italiano la sera",), records=(("programme", "ita"),)
)


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ("quanto costa?", "cost"),
        ("how much does it cost?", "cost"),
        ("dov'è?", "where"),
        ("where is it?", "where"),
        ("a che ora?", "when"),
        ("come mi iscrivo?", "enrol"),
        ("combien ça coûte ?", "cost"),
        ("كم التكلفة؟", "cost"),
        ("هل هي مجانية؟", "cost"),
        ("ci sono ancora posti liberi?", "enrol"),
        ("are there any places left?", "enrol"),
        ("Gibt es noch freie Plätze?", "enrol"),
        ("¿quedan plazas?", "enrol"),
        # How long: the longest cue decides ("combien" alone asks the cost).
        ("combien de temps ça dure ?", "when"),
        ("¿cuánto tiempo dura?", "when"),
        ("wie lange dauert der Kurs?", "when"),
        ("quante ore a settimana?", "when"),
        ("is it far from the centre?", "where"),
    ],
)
def test_a_detail_question_is_about_the_records_just_shown(text: str, attribute: str) -> None:
    assert read_follow_up(text, SHOWN).attribute == attribute


@pytest.mark.parametrize(
    "text",
    [
        "e sabato?",
        "and for children?",
        "ed è gratis?",
        "en zaterdag?",
        "c'è qualcosa anche per adulti?",
    ],
)
def test_and_questions_refine_the_previous_one(text: str) -> None:
    reading = read_follow_up(text, SHOWN)
    assert reading.refinement or reading.attribute is not None


def test_the_asked_sentence_is_the_one_with_a_cue() -> None:
    assert asked_sentence("ok e che giorni sono? io lavoro fino alle 17") == "ok e che giorni sono?"
    assert asked_sentence("ho tre figli. quanto costa?") == "quanto costa?"
    assert asked_sentence("corso di inglese per adulti") == "corso di inglese per adulti"
    assert asked_sentence("ho tre figli. ne ho parlato") == "ho tre figli. ne ho parlato"


def test_without_cues_a_message_keeps_only_its_own_subject() -> None:
    # "combien de temps" goes whole: "temps" left alone would sound like the weather.
    assert without_cues("combien de temps ça dure ?") == "?"
    assert without_cues("quanto costa l'abbonamento del bus?") == "l'abbonamento del bus?"


def test_a_new_question_or_no_conversation_is_not_a_follow_up() -> None:
    new = "ci sono corsi di informatica per anziani a Picanello il martedì mattina?"
    assert read_follow_up(new, SHOWN) == read_follow_up("quanto costa?", Context())


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ("ok ma per iscriversi serve qualche documento particolare?", "enrol"),
        ("is that one free too or do we have to pay something?", "cost"),
    ],
)
def test_a_longer_detail_question_leans_unless_it_names_its_own_subject(
    text: str, attribute: str
) -> None:
    assert read_follow_up(text, SHOWN) == Reading()  # too long for the cue words alone
    leaning = leaning_reading(text, SHOWN, answered=True, off_topic=NEVER, own_subject=NEVER)
    assert leaning.attribute == attribute
    own = leaning_reading(text, SHOWN, answered=True, off_topic=NEVER, own_subject=ALWAYS)
    assert own == Reading()


def test_a_cue_less_message_leans_only_when_the_folder_alone_would_not_answer_it() -> None:
    text = "my daughter is 15, is she still ok for it"
    alone = leaning_reading(text, SHOWN, answered=True, off_topic=NEVER, own_subject=NEVER)
    assert alone.refinement  # "is she" ... "it": a pronoun
    text = "mia figlia ha 15 anni, ormai è grande"
    assert leaning_reading(text, SHOWN, answered=True, off_topic=NEVER, own_subject=NEVER) == (
        Reading()
    )
    assert leaning_reading(text, SHOWN, answered=False, off_topic=NEVER, own_subject=NEVER) == (
        Reading(refinement=True)
    )
    # An uncovered topic, or no conversation at all, never leans.
    assert leaning_reading(text, SHOWN, answered=False, off_topic=ALWAYS, own_subject=NEVER) == (
        Reading()
    )
    assert leaning_reading(text, Context(), answered=False, off_topic=NEVER, own_subject=NEVER) == (
        Reading()
    )


def test_the_context_survives_json_and_a_refinement_builds_on_the_subject() -> None:
    assert Context.from_json(SHOWN.to_json()) == SHOWN
    assert Context.from_json("{not json") == Context()
    answer = Answer(
        question="e sabato?", lang="it", text="", abstained=False, follow_up="refinement"
    )
    after = after_answer(SHOWN, answer)
    assert after.last_question == "corso di italiano la sera e sabato?"
    assert after.records == SHOWN.records  # no new cards: the subject stays
    card = Card(kind="event", id="ev", title="Festa", summary="", path="events/a.yaml")
    shown = Answer(question="eventi?", lang="it", text="", abstained=False, cards=(card,))
    assert after_answer(SHOWN, shown).records == (("event", "ev"),)
    abstained = Answer(question="meteo?", lang="it", text="", abstained=True, kind="abstain")
    assert after_answer(SHOWN, abstained) == SHOWN


# --- rank --------------------------------------------------------------------------------------
def test_documents_rank_by_best_chunk_plus_a_little_support() -> None:
    hits = [
        hit("guides/a.md", 0.50),
        hit("guides/b.md", 0.48),
        hit("guides/b.md", 0.45),
        hit("guides/b.md", 0.40),
        hit("programmes/x.yaml", 0.49, record="prog-1"),
    ]
    ranked = rank_documents(hits)
    assert [doc.key for doc in ranked] == ["guides/b.md", "guides/a.md", "prog-1"]
    assert ranked[2].record_id == "prog-1" and ranked[0].record_id is None
    assert len(ranked[0].hits) == 3  # one entry per document, its chunks kept


def test_a_record_beating_the_best_guide_passage_to_passage_leads() -> None:
    # The guide ranks first on the support of its other sections; the record's one passage is
    # closer to the question, by the fused score and by meaning: the record is what was asked.
    guide = [hit("guides/b.md", score, dense=0.35) for score in (0.40, 0.39, 0.38)]
    record = hit("programmes/x.yaml", 0.42, dense=0.40, record="prog-1")
    ranked = rank_documents([*guide, record])
    assert ranked[0].key == "guides/b.md"
    assert outmatching_record(ranked) is ranked[1]
    closer_in_words_only = hit("programmes/x.yaml", 0.42, dense=0.30, record="prog-1")
    assert outmatching_record(rank_documents([*guide, closer_in_words_only])) is None
    weaker = hit("programmes/x.yaml", 0.39, dense=0.40, record="prog-1")
    assert outmatching_record(rank_documents([*guide, weaker])) is None


# --- gate ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gate(embeddings) -> RelevanceGate:
    return RelevanceGate(
        off_topics=ExampleBank.from_file(DATA / "out_of_scope.yaml", embeddings=embeddings),
        on_topics=ExampleBank.from_file(DATA / "in_scope.yaml", embeddings=embeddings),
    )


def _vector(embeddings, text: str) -> np.ndarray:
    return np.asarray(embeddings.embed_query(text), dtype=np.float32)


def test_the_gate_abstains_when_nothing_is_found(gate: RelevanceGate, embeddings) -> None:
    vector = _vector(embeddings, "corso di italiano per stranieri")
    assert not gate.judge(vector, []).answer
    assert not gate.judge(None, rank_documents([hit("guides/a.md", 0.6)])).answer


def test_a_learning_question_with_a_close_passage_is_answered(
    gate: RelevanceGate, embeddings
) -> None:
    vector = _vector(embeddings, "c'è un corso di italiano gratis la sera?")
    close = rank_documents([hit("guides/italiano.md", 0.62)])
    verdict = gate.judge(vector, close, topic=0.6, coverage=0.9)
    assert verdict.answer and verdict.confidence >= gate.threshold


def test_a_question_about_an_uncovered_topic_abstains_and_names_it(
    gate: RelevanceGate, embeddings
) -> None:
    vector = _vector(embeddings, "domani piove? che tempo fa a Catania")
    verdict = gate.judge(vector, rank_documents([hit("guides/a.md", 0.3)]), topic=0.3)
    assert not verdict.answer and verdict.off_topic == "weather"
    # The same words in a language the index cannot read are judged by meaning alone.
    arabic = _vector(embeddings, "هل ستمطر غدا في كاتانيا؟")
    assert not gate.judge(arabic, rank_documents([hit("guides/a.md", 0.25)])).answer


def test_the_folder_using_more_of_the_question_raises_the_confidence(
    gate: RelevanceGate, embeddings
) -> None:
    vector = _vector(embeddings, "doposcuola gratuito a librino")
    weak = rank_documents([hit("guides/a.md", 0.3)])
    low = gate.judge(vector, weak, topic=0.4, coverage=0.2).confidence
    high = gate.judge(vector, weak, topic=0.4, coverage=0.9).confidence
    assert high > low


def test_the_gate_model_file_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        RelevanceGate(threshold=1.5)
    broken = tmp_path / "gate.yaml"
    broken.write_text("features: [relevance]\nmean: [0]\nscale: [1]\nweights: [1]\nbias: 0\n")
    with pytest.raises(ValueError, match="gate.yaml"):
        GateModel.from_file(broken)


# --- passage -----------------------------------------------------------------------------------
SECTION = """Iscrizioni scolastiche\nChi deve iscriversi\n\n""" + "\n\n".join(
    [
        "Primaria: si iscrivono i bambini che compiono 6 anni entro il 31 dicembre.",
        "- Ho 17 anni e ho lasciato la scuola. Puoi iscriverti al CPIA per la licenza media.",
        "La mensa è attiva nelle scuole con tempo pieno e costa da 1,50 a 4 euro a pasto. " * 3,
        "Il trasporto scolastico è gratuito per chi abita a più di 2 km dalla scuola. " * 3,
        "Le iscrizioni si fanno online a gennaio, sul portale del Ministero. " * 2,
    ]
)


def test_a_passage_keeps_document_order_and_a_faq_item_whole(embeddings) -> None:
    chunk = Chunk(
        id="c1",
        text=SECTION,
        metadata={
            "path": "guides/s.md",
            "title": "Iscrizioni scolastiche",
            "section": "Chi deve iscriversi",
            "lang": "it",
        },
    )
    composer = PassageComposer(embeddings=embeddings)
    question = "ho 17 anni e ho lasciato la scuola, cosa faccio?"
    vector = np.asarray(embeddings.embed_query(question), dtype=np.float32)
    passage = composer.compose(question, vector, chunk)
    assert "Ho 17 anni e ho lasciato la scuola. Puoi iscriverti al CPIA" in passage.text
    assert len(passage.text) <= 700 and passage.full  # the rest is one tap away
    assert passage.heading == "Chi deve iscriversi" and passage.path == "guides/s.md"
    order = [SECTION.index(line) for line in passage.text.splitlines()]
    assert order == sorted(order)  # the document's order


def test_a_short_section_is_shown_whole_without_embedding_its_sentences(embeddings) -> None:
    embedded: list[str] = []

    class Counting:
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            embedded.extend(texts)
            return embeddings.embed_documents(texts)

    body = "Il corso è gratuito.\n\nSi tiene il martedì alle 18 in biblioteca."
    chunk = Chunk(
        id="short",
        text=f"Corso serale\n\n{body}",
        metadata={"path": "guides/c.md", "title": "Corso serale", "lang": "it"},
    )
    composer = PassageComposer(embeddings=Counting())  # type: ignore[arg-type]
    vector = np.asarray(embeddings.embed_query("quando si tiene?"), dtype=np.float32)
    passage = composer.compose("quando si tiene?", vector, chunk)
    assert passage.text == "Il corso è gratuito.\nSi tiene il martedì alle 18 in biblioteca."
    assert embedded == [] and passage.full == ""


def test_the_composer_checks_its_limit(embeddings) -> None:
    with pytest.raises(ValueError, match="max_chars"):
        PassageComposer(embeddings=embeddings, max_chars=10)


def test_context_store_keeps_and_forgets_a_conversation(tmp_path: Path) -> None:
    from learncity.db import make_engine
    from retrieval.context_store import ContextStore, telegram_key

    store = ContextStore(engine=make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    store.create_schema()
    now = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
    store.save(telegram_key(42), SHOWN, now=now)
    assert store.load(telegram_key(42), now=now) == SHOWN
    assert store.load(telegram_key(42), now=now + dt.timedelta(hours=3)) == Context()  # stale
    assert store.describe_user(42) == {"conversation": list(SHOWN.questions)}
    assert store.forget_user(42) == 1 and store.load(telegram_key(42), now=now) == Context()


def test_languages_the_index_cannot_read_have_their_own_threshold(gate: RelevanceGate) -> None:
    vector = np.zeros(512, dtype=np.float32)
    weak = rank_documents([hit("guides/a.md", 0.25, dense=0.25)])
    read, unread = gate.judge(vector, weak, coverage=0.5), gate.judge(vector, weak, coverage=None)
    assert read.evidence is not None and unread.evidence is not None
    model = GateModel.from_file()
    assert model.threshold != model.threshold_other_languages  # fitted apart
    assert model.threshold_for(read.evidence) == model.threshold
    assert model.threshold_for(unread.evidence) == model.threshold_other_languages
    assert unread.answer == (unread.confidence >= model.threshold_other_languages)
    # A model file from before the second threshold uses one threshold for every language.
    one = model.with_threshold(0.3)
    assert one.threshold_for(unread.evidence) == one.threshold_for(read.evidence) == 0.3


def test_a_record_answers_a_detail_only_when_its_facts_use_every_word_asked() -> None:
    facts = [
        "Gentle floor exercise for the over-65s.",
        "mon 09:30-10:30",
        "€180. 50% discount for unemployed people and students under 26.",
        "Enrol online; bring a certificate from your GP.",
        "No discount for pensioners.",
    ]

    def asked(words: str) -> list[str]:
        return answering_facts(facts, set(tokenize(words, ("en",))), "en")

    assert asked("unemployed") == [facts[2]]
    assert asked("discount certificate") == [facts[2], facts[3]]  # two facts, record order
    assert asked("discount pensioners") == [facts[4]]  # the one fact using both
    assert asked("discount") == [facts[2]]  # the first that says it
    assert asked("unemployed parking") == []  # the record never mentions parking
