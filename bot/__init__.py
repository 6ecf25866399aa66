"""The Telegram adapter: thin handlers over the same services the terminal chat uses.

`application.build_application(settings, services)` is the composition root; `run_bot` runs it.
Areas: `start` (welcome, language, menu, privacy, forget), `answers` (free text, sources, cards,
feedback, location, safeguarding), `courses`, `events`, `school`, `staff`, `odd` (gate, flood
control, odd input), `errors`; state in `storage` (tables) and `persistence` (PTB on SQL).
"""
