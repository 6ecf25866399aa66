"""The optional front matter of a guide (Markdown or text)."""

from __future__ import annotations

import datetime as dt

from pydantic import AliasChoices, ConfigDict, Field

from learncity.content.strict import Strict
from learncity.content.texts import LanguageCode
from learncity.content.vocabulary import Audience, Topic


class GuideMeta(Strict):
    """Optional front matter of a guide (Markdown or text); every field may be omitted."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    title: str | None = None
    audience: list[Audience] = Field(
        default_factory=list, validation_alias=AliasChoices("audience", "audiences")
    )
    topics: list[Topic] = Field(default_factory=list)
    language: LanguageCode | None = Field(
        default=None, validation_alias=AliasChoices("language", "lang")
    )
    source_url: str | None = None
    last_updated: dt.date | None = None
