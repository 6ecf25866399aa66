"""The terminal adapter: `learncity ask` (text or JSON, `--session`), `chat`, `index` and `check`.

It calls the same services as the bot (`AnswerEngine.ask`, the knowledge service), with the
conversation kept in the database under a session name, so follow-ups work in the terminal too
and survive a restart. Modules: `render` (an `Answer` as text or JSON), `session`, `ask`, `chat`,
`knowledge` (the index and check reports).
"""
