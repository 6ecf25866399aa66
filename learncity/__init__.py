"""The Learning City Assistant's ground floor: settings, database, i18n, content model, loader."""
