"""What the understand step hands on: the question as the engine reads it.

Plain values shared by the engine (`retrieval.engine`), which builds them, and the compose step
(`retrieval.compose`), which writes the answer from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from retrieval.conversation import Reading
from retrieval.query import ParsedQuestion
from retrieval.types import Filters


class Detection(Protocol):
    """What a safeguarding classifier found (learncity.safeguarding.Detection)."""

    @property
    def urgent(self) -> bool:
        """Return True when only the helplines should follow."""
        ...


Safeguard = Callable[[str, "np.ndarray | None"], Detection | None]


@dataclass(frozen=True, slots=True)
class Understood:
    """The question as the engine reads it."""

    text: str  # what is searched: the question, or the previous one refined by it
    question: str  # the message as written, cleaned of invisible characters
    lang: str  # the language to reply in
    written: str | None  # the language the question is written in, when it can be told
    parsed: ParsedQuestion
    filters: Filters
    reading: Reading
    vector: np.ndarray | None
