"""The Learning City Assistant: settings, content model, i18n, database and the composition root."""
