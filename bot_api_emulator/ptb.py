"""Run a python-telegram-bot Application against the emulator the way ``run_polling`` does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from telegram.ext import Application


@contextlib.asynccontextmanager
async def polling(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    poll_interval: float = 0.0,
    timeout: int = 5,
    allowed_updates: Sequence[str] | None = None,
    drop_pending_updates: bool = False,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Start ``application`` with long polling, in ``run_polling``'s order, and stop it after.

    Runs ``post_init`` (which ``Application.start`` alone skips), then ``post_stop`` and
    ``post_shutdown`` on the way out, so a test sees the same lifecycle as production.
    """
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        updater = application.updater
        if updater is None:
            raise ValueError("the application has no updater: build it with an Updater")
        await updater.start_polling(
            poll_interval=poll_interval,
            timeout=timeout,
            allowed_updates=allowed_updates,
            drop_pending_updates=drop_pending_updates,
        )
        await application.start()
        yield application
    finally:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
            if application.post_stop:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
