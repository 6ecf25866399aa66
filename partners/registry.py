"""Who the partners are (`knowledge/partners.yaml`) and which feeds each one has (`feeds.yaml`).

Both files are staff-written YAML, read with the knowledge loader's line-aware parser so a
mistake is reported as `partners.yaml:7: ...` like every other knowledge file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

from pydantic import Field, field_validator, model_validator

from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.models import Audience, Lang, LearningType, Strict, Topic
from learncity.content.problems import validate_node
from learncity.content.reading import decode_text
from learncity.content.yaml_source import parse_yaml
from partners.errors import UnsafeName

PARTNERS_FILE = "partners.yaml"
PARTNERS_DIR = "partners"
FEEDS_FILE = "feeds.yaml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_M = TypeVar("_M", bound=Strict)
NAME_RULE = "use 1-40 lowercase letters, digits and '-', starting with a letter or digit"


def check_partner_name(name: str) -> str:
    """Return `name` if it is a plain partner name; raise UnsafeName otherwise."""
    if not _NAME.fullmatch(name):
        raise UnsafeName("partner", name, NAME_RULE)
    return name


class Partner(Strict):
    """One partner: its folder name, who may publish for it, and defaults for its listings."""

    name: str
    title: str
    admins: list[int] = Field(default_factory=list)  # Telegram user ids
    topics: list[Topic] = Field(default_factory=list)  # when a listing names no known topic
    audiences: list[Audience] = Field(default_factory=lambda: [Audience.EVERYONE])
    learning_type: LearningType = LearningType.NON_FORMAL  # of courses; events stay informal
    lang: Lang = "it"

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"'{value}' is not a valid partner name: {NAME_RULE}")
        return value

    @field_validator("admins", mode="before")
    @classmethod
    def _one_or_many_ids(cls, value: object) -> object:
        return [value] if isinstance(value, int | str) else value


class PartnersFile(Strict):
    """The whole partners.yaml."""

    partners: list[Partner] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> PartnersFile:
        seen: set[str] = set()
        for partner in self.partners:
            if partner.name in seen:
                raise ValueError(f"partner '{partner.name}' is listed twice: keep one")
            seen.add(partner.name)
        return self

    def get(self, name: str) -> Partner | None:
        """Return the partner called `name`, if listed."""
        return next((p for p in self.partners if p.name == name), None)

    def of_admin(self, user_id: int) -> list[Partner]:
        """Return the partners a Telegram user may publish for."""
        return [p for p in self.partners if user_id in p.admins]


class Feed(Strict):
    """One feed a partner publishes: checked every `every_minutes`, stored as document `name`."""

    url: str
    every_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    name: str | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError(f"'{value}' is not an http(s) address")
        return value


class FeedsFile(Strict):
    """A partner's feeds.yaml."""

    feeds: list[Feed] = Field(default_factory=list)


def _read_yaml(root: Path, relative: str, model: type[_M]) -> _M | None:
    path = root / relative
    if not path.is_file():
        return None
    text = decode_text(relative, path.read_bytes())
    data, node = parse_yaml(relative, text)
    if node is None:
        return model()
    if not isinstance(data, dict):
        raise InvalidFile([KnowledgeError(relative, 1, "the file should be 'field: value' lines")])
    return validate_node(relative, model, data, node)


def load_partners(root: Path) -> PartnersFile:
    """Return partners.yaml (empty when missing); raise InvalidFile with lines when broken."""
    return _read_yaml(root, PARTNERS_FILE, PartnersFile) or PartnersFile()


def load_feeds(root: Path, partner: str) -> FeedsFile:
    """Return the partner's feeds.yaml (empty when missing); raise InvalidFile when broken."""
    relative = f"{PARTNERS_DIR}/{check_partner_name(partner)}/{FEEDS_FILE}"
    return _read_yaml(root, relative, FeedsFile) or FeedsFile()
