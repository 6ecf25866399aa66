"""Which language a resident wrote in, offline (py3langid's packaged model, nothing downloaded).

The identifier is restricted to the languages the assistant can serve: those the multilingual
embedding covers plus the languages of the city's largest communities. A message too short or
too odd to tell ("ok", "👍", "???") keeps the language already in use (the conversation's, the
resident's setting), so a greeting never flips the reply into a random language.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

# USE multilingual v3 covers these; uk, ro, bn, sq are the city's communities it does not.
EMBEDDED_LANGUAGES = (
    "ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh",
)  # fmt: skip
EXTRA_LANGUAGES = ("uk", "ro", "bn", "sq")
IDENTIFIABLE = EMBEDDED_LANGUAGES + EXTRA_LANGUAGES
MIN_LETTERS = 4
MIN_CONFIDENCE = 0.6
# Scripts that name their language outright, whatever the model says about a short text.
_SCRIPTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u3040-\u30ff]"), "ja"),
    (re.compile(r"[\uac00-\ud7af]"), "ko"),
    (re.compile(r"[\u4e00-\u9fff]"), "zh"),
    (re.compile(r"[\u0980-\u09ff]"), "bn"),
    (re.compile(r"[іїєґІЇЄҐ]"), "uk"),
)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Identified:
    """The language of a text and how sure the identifier is (1.0 for a telling script)."""

    lang: str
    confidence: float


class LanguageIdentifier:
    """Tell the language of a message among `IDENTIFIABLE`, or fall back to the caller's."""

    def __init__(self, *, languages: tuple[str, ...] = IDENTIFIABLE) -> None:
        if not languages:
            raise ValueError("languages must not be empty")
        self._languages = languages
        self._model: Any = None
        self._lock = threading.Lock()

    def _identifier(self) -> Any:
        with self._lock:
            if self._model is None:
                from py3langid.langid import MODEL_DIR, MODEL_FILE
                from py3langid.langid import LanguageIdentifier as Model

                model = Model.from_model_file(MODEL_DIR / MODEL_FILE, norm_probs=True)
                model.set_languages(list(self._languages))
                self._model = model
            return self._model

    def warm_up(self) -> None:
        """Load the model now."""
        self._identifier()

    def identify(self, text: str) -> Identified | None:
        """Return the language of `text`, or None when it is too short or unclear to tell."""
        letters = _LETTER.findall(text)
        for pattern, lang in _SCRIPTS:
            if lang in self._languages and pattern.search(text):
                return Identified(lang, 1.0)
        if len(letters) < MIN_LETTERS:
            return None
        lang, confidence = self._identifier().classify(text)
        if confidence < MIN_CONFIDENCE:
            return None
        return Identified(str(lang), float(confidence))

    def language_of(self, text: str, *, fallback: str) -> str:
        """Return the language of `text`, or `fallback` when it cannot be told."""
        found = self.identify(text)
        return found.lang if found is not None else fallback
