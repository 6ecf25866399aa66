"""Optional LLM phrasing: answers must cite the given passages, or the extractive answer stays.

Only the chat model is fake (langchain_core's FakeListChatModel): it stands for a paid LLM.
"""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from learncity.settings import Settings
from retrieval.llm import LLMPhraser, Passage, build_messages, citations, make_chat_model

PASSAGES = [
    Passage(title="Iscrizioni", text="Le iscrizioni alla primaria si fanno online a gennaio."),
    Passage(title="Mensa", text="La mensa costa da 1,50 a 3,50 euro a pasto secondo l'ISEE."),
]


def phraser(reply: str) -> LLMPhraser:
    return LLMPhraser(model=FakeListChatModel(responses=[reply]))


def test_answer_with_valid_citations_is_kept() -> None:
    phrased = phraser("Si fa online a gennaio [1]; la mensa dipende dall'ISEE [2].").phrase(
        "come iscrivo mio figlio?", PASSAGES, "it"
    )
    assert phrased is not None
    assert phrased.cited == (1, 2)
    assert "[1]" in phrased.text


def test_citation_of_an_unknown_passage_is_refused() -> None:
    assert phraser("Si fa online a gennaio [3].").phrase("iscrizione?", PASSAGES, "it") is None


def test_answer_without_citations_is_refused() -> None:
    assert phraser("Si fa online a gennaio.").phrase("iscrizione?", PASSAGES, "it") is None


def test_declining_model_is_refused() -> None:
    assert phraser("NO_ANSWER").phrase("meteo?", PASSAGES, "it") is None


def test_failing_model_leaves_the_extractive_answer() -> None:
    class Broken(FakeListChatModel):
        def _call(self, *args: object, **kwargs: object) -> str:
            raise ConnectionError("provider down")

    assert LLMPhraser(model=Broken(responses=["x"])).phrase("q", PASSAGES, "it") is None


def test_prompt_numbers_only_the_given_passages() -> None:
    messages = build_messages("quanto costa la mensa?", PASSAGES, "en")
    assert "English" in messages[0].content
    assert "[1] Iscrizioni" in messages[1].content and "[2] Mensa" in messages[1].content
    assert "[3]" not in messages[1].content


def test_citations_parse_lists_in_order() -> None:
    assert citations("a [2] b [1, 2] c [10]") == [2, 1, 10]


def test_llm_is_off_unless_a_model_is_named() -> None:
    assert make_chat_model(Settings(llm_model=None)) is None
