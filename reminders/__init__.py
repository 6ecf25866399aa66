"""Event reminders and the weekly digest: on time, exactly once, across restarts.

Modules: `store` (tables on `learncity.db.Base`; the database is the source of truth), `service`
(`ReminderService`: subscribe, list, cancel, offsets, digest choices, reconcile, the outbox),
`messages` (`MessageRenderer`: what each reminder, notice and digest says, with its .ics),
`scheduler` (`ReminderScheduler`: one APScheduler 3 wake-up rebuilt from the database at start),
`delivery` (`Sender` protocol, `Deliverer` within Telegram's limits), `digest` (weekly digest and
quiet hours), `clock` (`Clock` protocol; tests use `ManualClock`). Only `bot/reminders.py` knows
Telegram.

Wiring (in the composition root, `app.root`): `build_reminders(settings, engine=...,
knowledge=...)` builds the service; `bot.reminders.ReminderHandlers(service=..., language=...)`
holds the handlers; `build_reminder_scheduler(service, bot=application.bot)` builds the scheduler
with a `TelegramSender`, which `bot.lifecycle.Lifecycle` starts in post_init and stops in
post_shutdown.
"""
