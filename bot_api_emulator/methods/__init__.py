"""Bot API method groups: each holds a few methods and returns them from ``handlers()``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot_api_emulator.protocol import Handler


class MethodGroup(Protocol):
    """A set of Bot API methods the HTTP server routes to."""

    def handlers(self) -> dict[str, Handler]:
        """Return the group's methods by lower-case Bot API name."""
        ...


def merged_handlers(groups: Iterable[MethodGroup]) -> dict[str, Handler]:
    """Return every group's methods in one table; a name claimed twice is a bug."""
    handlers: dict[str, Handler] = {}
    for group in groups:
        for name, handler in group.handlers().items():
            if name in handlers:
                raise ValueError(f"Bot API method {name!r} is handled by two groups")
            handlers[name] = handler
    return handlers
