"""When the bot put messages into chats, and how many fell within a time window."""

from __future__ import annotations

#: Methods that put a message into a chat: the ones Telegram's rate limits are about.
MESSAGE_METHODS = {
    "sendmessage",
    "senddocument",
    "sendphoto",
    "sendlocation",
    "sendvenue",
    "sendsticker",
    "sendcontact",
    "copymessage",
    "forwardmessage",
}


class SendLog:
    """(monotonic time, chat id, method) of every message the bot put into a chat."""

    def __init__(self) -> None:
        self.entries: list[tuple[float, int, str]] = []

    def record(self, at: float, chat_id: int, method: str) -> None:
        """Log one message sent at monotonic time ``at``."""
        self.entries.append((at, chat_id, method))

    def times(self, chat_id: int | None = None) -> list[float]:
        """Return the monotonic times of messages put into a chat (or any chat)."""
        return [at for at, cid, _ in self.entries if chat_id is None or cid == chat_id]

    def max_in_window(self, window: float = 1.0, chat_id: int | None = None) -> int:
        """Return the largest number of messages sent within any ``window`` seconds."""
        times = sorted(self.times(chat_id))
        best = 0
        left = 0
        for right, at in enumerate(times):
            while at - times[left] >= window:
                left += 1
            best = max(best, right - left + 1)
        return best

    def max_per_chat_in_window(self, window: float = 1.0) -> int:
        """Return the worst per-chat count of messages within any ``window`` seconds."""
        chats = {cid for _, cid, _ in self.entries}
        return max((self.max_in_window(window, cid) for cid in chats), default=0)

    def recent(self, now: float, window: float, chat_id: int | None) -> tuple[int, int]:
        """Return how many messages went to ``chat_id`` and to any chat in the last ``window``."""
        in_chat = in_all = 0
        for at, cid, _ in reversed(self.entries):
            if now - at >= window:
                break
            in_all += 1
            in_chat += cid == chat_id
        return in_chat, in_all
