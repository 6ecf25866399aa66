"""One terminal conversation: its context loaded before and saved after each answer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.context_store import ContextStore
    from retrieval.engine import AnswerEngine
    from retrieval.types import Answer


class Session:
    """One conversation with the engine: its context loaded before and saved after each answer.

    `store` None: stateless (plain `learncity ask`), every question stands alone.
    """

    def __init__(
        self, *, engine: AnswerEngine, store: ContextStore | None, name: str | None
    ) -> None:
        self._engine = engine
        self._store = store
        self._key = f"cli:{name}" if name else None

    def ask(self, question: str, *, lang: str | None = None) -> Answer:
        """Answer `question` in the light of this session's conversation so far."""
        from retrieval.conversation import Context

        now = dt.datetime.now(self._engine.zone)
        context = (
            self._store.load(self._key, now=now)
            if self._store is not None and self._key
            else Context()
        )
        answer = self._engine.ask(question, lang=lang, now=now, context=context)
        if self._store is not None and self._key and answer.kind == "answer":
            from retrieval.conversation import after_answer

            self._store.save(self._key, after_answer(context, answer), now=now)
        return answer
