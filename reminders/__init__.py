"""Event reminders and the weekly digest: on time, exactly once, across restarts.

Modules: `store` (tables on `learncity.db.Base`; the database is the source of truth), `service`
(`ReminderService`: subscribe, list, cancel, offsets, digest choices, reconcile, the outbox),
`scheduler` (`ReminderScheduler`: one APScheduler 3 wake-up rebuilt from the database at start),
`delivery` (`Sender` protocol, `Deliverer` within Telegram's limits), `digest` (weekly digest and
quiet hours), `clock` (`Clock` protocol; tests use `ManualClock`). Only `bot/reminders.py` knows
Telegram.

Wiring: `ReminderService.from_settings(settings, engine=..., knowledge=lambda: kb_service.current)`
builds the service; `bot.reminders.ReminderHandlers(service=..., language=...)` registers the
handlers and, in its `post_init(application)`, starts the scheduler with a `TelegramSender` on
`application.bot` (stopped in `post_shutdown`).
"""
