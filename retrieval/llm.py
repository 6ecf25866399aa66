"""Optional answer phrasing by a chat model, grounded in the retrieved passages only.

Off unless LLM_MODEL is set. The model sees the question and numbered passages, and must cite
them as [n]. Its answer is used only when every citation names a passage it was given and there
is at least one; otherwise (or on any model error) the assistant keeps its extractive answer.
Providers (langchain-openai for any OpenAI-compatible URL, langchain-ollama) are optional extras,
imported only when configured.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

if TYPE_CHECKING:
    from learncity.settings import Settings

logger = logging.getLogger(__name__)

NO_ANSWER = "NO_ANSWER"
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_LANGUAGE_NAMES = {"it": "Italian", "en": "English"}

SYSTEM_PROMPT = """You answer residents' questions for a city's learning services.
Use ONLY the numbered passages below. Do not add facts, phone numbers, dates or places that are
not in them. Cite the passage of every statement as [n] (for example [1] or [1, 3]).
Answer in {language}, in at most four short sentences.
If the passages do not answer the question, reply exactly: {no_answer}"""


class LLMConfigError(ValueError):
    """The LLM settings name an unknown provider or a missing package."""


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved passage shown to the model under its number (1-based position)."""

    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Phrased:
    """A model answer whose citations all point at given passages."""

    text: str
    cited: tuple[int, ...]  # 1-based passage numbers, in order of first citation


def citations(text: str) -> list[int]:
    """Return the passage numbers cited as [n] or [n, m] in `text`, in order of appearance."""
    found: list[int] = []
    for match in _CITATION.finditer(text):
        for part in match.group(1).split(","):
            number = int(part)
            if number not in found:
                found.append(number)
    return found


def build_messages(
    question: str, passages: Sequence[Passage], lang: str
) -> list[SystemMessage | HumanMessage]:
    """Return the prompt: rules, then the numbered passages and the question."""
    numbered = "\n\n".join(
        f"[{number}] {passage.title}\n{passage.text}"
        for number, passage in enumerate(passages, start=1)
    )
    system = SYSTEM_PROMPT.format(
        language=_LANGUAGE_NAMES.get(lang, "Italian"), no_answer=NO_ANSWER
    )
    return [
        SystemMessage(content=system),
        HumanMessage(content=f"Passages:\n\n{numbered}\n\nQuestion: {question}"),
    ]


class LLMPhraser:
    """Phrase an answer from passages with a langchain chat model, checking its citations."""

    def __init__(self, *, model: BaseChatModel, max_passages: int = 5) -> None:
        if max_passages < 1:
            raise ValueError(f"max_passages ({max_passages}) must be at least 1")
        self._model = model
        self._max_passages = max_passages

    def phrase(self, question: str, passages: Sequence[Passage], lang: str) -> Phrased | None:
        """Return the model's cited answer, or None when it cites nothing, cites an unknown
        passage, declines, or fails (the caller keeps the extractive answer)."""
        shown = list(passages[: self._max_passages])
        if not shown:
            return None
        try:
            reply = self._model.invoke(build_messages(question, shown, lang))
        except Exception:  # any provider failure must leave the extractive answer standing
            logger.warning("LLM phrasing failed; keeping the extractive answer", exc_info=True)
            return None
        text = reply.text.strip() if hasattr(reply, "text") else str(reply.content).strip()
        if not text or NO_ANSWER in text:
            return None
        cited = citations(text)
        if not cited:
            logger.info("LLM answer without citations dropped")
            return None
        unknown = [number for number in cited if not 1 <= number <= len(shown)]
        if unknown:
            logger.info("LLM answer citing unknown passages %s dropped", unknown)
            return None
        return Phrased(text=text, cited=tuple(cited))


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """Return the configured chat model, or None when LLM phrasing is off (no LLM_MODEL)."""
    if not settings.llm_model:
        return None
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if settings.llm_provider == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as error:
            raise LLMConfigError(
                "LLM_PROVIDER 'openai' needs the optional package: pip install 'learncity[llm]'"
            ) from error
        return ChatOpenAI(
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            api_key=api_key or "not-needed",
            temperature=0,
            timeout=30,
        )
    if settings.llm_provider == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError as error:
            raise LLMConfigError(
                "LLM_PROVIDER 'ollama' needs the optional package: pip install 'learncity[llm]'"
            ) from error
        if settings.llm_base_url:
            return ChatOllama(
                model=settings.llm_model, base_url=settings.llm_base_url, temperature=0
            )
        return ChatOllama(model=settings.llm_model, temperature=0)
    raise LLMConfigError(
        f"unknown llm_provider {settings.llm_provider!r}; known: 'openai', 'ollama'"
    )
