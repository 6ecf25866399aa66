"""The Telegram adapter: thin handlers over the same services the terminal chat uses.

The composition root (`app.root.build_application`) builds the application; `application` holds
the handler table (which handler in which group, in order) and `lifecycle` PTB's post_init and
post_shutdown (start and stop what the root built: scheduler, watcher, services).
Areas: `start` (welcome, language, menu, privacy, forget), `answers` (free text, sources, cards,
feedback, location, safeguarding), `courses`, `events`, `school`, `staff`, `odd` (gate, flood
control, odd input), `errors`; state in `storage` (tables) and `persistence` (PTB on SQL).
"""
