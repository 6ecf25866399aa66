"""The base of every record model: unknown fields are errors, one value may stand for a list."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator


def _split_list(value: object) -> object:
    # Staff often write one value ("audiences: adults") or a comma list where YAML expects a list.
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;]", value) if part.strip()]
    return value


class Strict(BaseModel):
    """Base for records: unknown fields are an error, so a typo is reported instead of ignored."""

    # Numbers become text where text is expected (a phone number, an id such as 2026).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)

    @field_validator(
        "topics", "audiences", "audience", "languages", "skills", mode="before", check_fields=False
    )
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return _split_list(value)
