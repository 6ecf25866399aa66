"""Inline keyboard button presses: ``answerCallbackQuery``."""

from __future__ import annotations

from bot_api_emulator.protocol import Handler, Params
from bot_api_emulator.state import bad_request
from bot_api_emulator.world import World

_MAX_ANSWER_TEXT = 200


class CallbackMethods:
    """Answering the callback queries that users' button presses created."""

    def __init__(self, world: World) -> None:
        self._world = world

    def handlers(self) -> dict[str, Handler]:
        """Return this group's methods by lower-case name."""
        return {"answercallbackquery": self.answer_callback_query}

    async def answer_callback_query(self, params: Params) -> bool:
        """Record the bot's answer to a query; each query is answered at most once."""
        query_id = params.get_str("callback_query_id", required=True) or ""
        answers = self._world.callback_answers
        if query_id not in self._world.callback_queries or query_id in answers:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get_str("text")
        if text is not None and len(text) > _MAX_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        answers[query_id] = {
            "text": text,
            "show_alert": params.get_bool("show_alert"),
            "url": params.get_str("url"),
            "cache_time": params.get_int("cache_time"),
        }
        self._world.notify("callbacks")
        return True
