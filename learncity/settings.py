"""One typed settings object, read from the environment and `.env` at start-up (never at import)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from learncity.i18n import supported_languages

Language = str  # a language with a catalogue in learncity/locales ("it", "en", "uk"...)


class Settings(BaseSettings):
    """Every setting of the assistant; each one is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", populate_by_name=True
    )

    knowledge_dir: Path = Field(
        Path("knowledge"), validation_alias=AliasChoices("LEARNCITY_KNOWLEDGE_DIR", "knowledge_dir")
    )
    data_dir: Path = Field(
        Path("data"), validation_alias=AliasChoices("LEARNCITY_DATA_DIR", "data_dir")
    )
    default_language: str = "it"
    timezone: str = "Europe/Rome"

    # Retrieval
    embedding_model: str = "use-multilingual"
    embedding_threads: int = 1
    chroma_server_url: str | None = None
    abstain_threshold: float | None = None  # None: the calibrated default in retrieval

    # Optional LLM phrasing (off unless LLM_MODEL is set)
    llm_provider: str = "openai"  # "openai" (any OpenAI-compatible URL) or "ollama"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str | None = None
    telegram_base_file_url: str | None = None
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret_token: SecretStr | None = None
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_chat_id: int | None = None
    flood_max_messages: int = 20
    flood_window_seconds: int = 60

    # Partners' listings (partners/)
    partner_max_mb: float = Field(5.0, gt=0)  # larger documents and feeds are refused
    partner_fetch_timeout: float = Field(20.0, gt=0)  # seconds for a whole feed download
    partner_refresh_seconds: int = Field(300, ge=30)  # how often the bot looks for due feeds

    # State
    database_url: SecretStr | None = None  # may hold a password

    # Reminders and digests
    reminder_offsets: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["1d", "1h"])
    digest_weekday: int = 0  # Monday
    digest_time: str = "09:00"
    quiet_hours: str = "21:00-08:00"
    delivery_rate_per_second: float = 25.0

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _split_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        supported = supported_languages()
        if value not in supported:
            raise ValueError(
                f"default_language must be one of {', '.join(supported)} (a catalogue in "
                f"learncity/locales), not {value!r}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("embedding_threads")
    @classmethod
    def _positive_threads(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"embedding_threads ({value}) must be at least 1")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """Return the city's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        """Return DATABASE_URL, or a SQLite file in the data dir."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'learncity.sqlite3').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        """Return the folder of the embedded Chroma store."""
        return self.data_dir / "chroma"
