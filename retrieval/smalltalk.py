"""Small talk: greetings, thanks, goodbyes and "what can you do?" get a friendly reply, in any
language the embedding covers, instead of "I don't have this information".

Only short messages qualify ("ciao, corsi di inglese?" is a question); an exact match of a known
example decides at once, then a word of thanks or goodbye in a message that asks nothing ("amazing,
thanks so much!!"); otherwise the meaning must be very close to one (`data/smalltalk.yaml`).
"""

from __future__ import annotations

import re

import numpy as np

from retrieval.examples import ExampleBank
from retrieval.lexical import fold

MAX_WORDS = 5
MIN_SIMILARITY = 0.8
PARTING = ("thanks", "goodbye")  # one of their words makes a short statement small talk
_NOT_WORD = re.compile(r"[^\w\s]")


def _plain(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", fold(text)).split())


class SmalltalkDetector:
    """Tell whether a short message is small talk, and which kind."""

    def __init__(self, *, bank: ExampleBank, min_similarity: float = MIN_SIMILARITY) -> None:
        self._bank = bank
        self._min_similarity = min_similarity
        self._exact: dict[str, str] | None = None

    def warm_up(self) -> None:
        """Embed the examples now."""
        self._bank.warm_up()

    @staticmethod
    def _parting_word(text: str, exact: dict[str, str]) -> str | None:
        """Return "thanks" or "goodbye" when the message holds a one-word example of either."""
        for word in _plain(text).split():
            label = exact.get(word)
            if label in PARTING:
                return label
        return None

    def candidate(self, text: str) -> bool:
        """Return True when the message is short enough to be small talk."""
        words = _plain(text).split()
        return 0 < len(words) <= MAX_WORDS or (not words and bool(text.strip()) and len(text) < 40)

    def intent(self, text: str, vector: np.ndarray | None) -> str | None:
        """Return "greeting", "thanks", "goodbye" or "capabilities", or None for a question."""
        if not self.candidate(text):
            return None
        if self._exact is None:
            self._exact = {}
            nearest_labels = self._bank  # the bank keeps labels aligned with texts
            for label, example in zip(nearest_labels.labels, nearest_labels.texts, strict=True):
                self._exact.setdefault(_plain(example), label)
        found = self._exact.get(_plain(text))
        if found is not None:
            return found
        if "?" not in text and (said := self._parting_word(text, self._exact)) is not None:
            return said  # "amazing, thanks so much!!", "ok perfetto, grazie"
        if vector is None:
            return None
        nearest = self._bank.nearest(vector)
        if nearest is None or nearest.similarity < self._min_similarity:
            return None
        return nearest.label
