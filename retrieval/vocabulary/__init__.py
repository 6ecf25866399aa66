"""The words the question parser understands, in data files: one per language, all merged.

`common.yaml` names every audience, topic, time of day, language of instruction and concept, in
the order the parser reports them, with the words that are the same in every language ("60+",
"yoga"). Each `<lang>.yaml` adds its words to those names. The files are merged, so the vocabulary
applies to a question in any language: adding a language is adding a file, no code.

Patterns are folded text (`fold`: lower case, no accents) matched at word starts; a `*` at the end
of a word allows any ending ("anzian*": anziano, anziani; "richiedent* asilo"). The files are
validated once, on first use.

Exceptions:
    VocabularyError (ValueError): a file that cannot be read or breaks the schema; the message
        names the file, the line and the key.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

from learncity.text import fold

__all__ = [
    "DATA_DIR",
    "WINDOWS",
    "Concept",
    "TimeOfDay",
    "Vocabulary",
    "VocabularyError",
    "default_vocabulary",
    "fold",
    "load_vocabulary",
]

DATA_DIR = Path(__file__).parent
COMMON = "common"
TimeOfDay = Literal["morning", "afternoon", "evening"]
# Time windows the parser computes itself, checked in this order ("next weekend" before "weekend").
WINDOWS = (
    "next_weekend",
    "weekend",
    "next_week",
    "this_week",
    "next_month",
    "this_month",
    "day_after_tomorrow",
    "today",
)


class VocabularyError(ValueError):
    """A vocabulary file that cannot be read or does not follow the schema."""


def _check_pattern(pattern: str) -> str:
    if not pattern.strip():
        raise ValueError("empty pattern")
    if pattern != fold(pattern):
        raise ValueError(f"{pattern!r} is not folded text: write {fold(pattern)!r}")
    if re.search(r"(?<![\w'-])\*|\*(?! |$)", pattern):
        raise ValueError(f"{pattern!r}: '*' is allowed only at the end of a word")
    return pattern


Pattern = Annotated[StrictStr, AfterValidator(_check_pattern)]
Patterns = list[Pattern]
Weekday = Annotated[int, Field(ge=0, le=6)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Window(_Model):
    next_weekend: Patterns = []
    weekend: Patterns = []
    next_week: Patterns = []
    this_week: Patterns = []
    next_month: Patterns = []
    this_month: Patterns = []
    day_after_tomorrow: Patterns = []
    today: Patterns = []


class VocabularyFile(_Model):
    """One file: every list optional; named groups only under names common.yaml declares."""

    function_words: Patterns = []
    audiences: dict[str, Patterns] = {}
    implied_audiences: dict[str, Patterns] = {}
    age_before: Patterns = []
    age_after: Patterns = []
    topics: dict[str, Patterns] = {}
    free: Patterns = []
    not_free: Patterns = []
    instruction_languages: dict[str, Patterns] = {}
    instruction_lead: Patterns = []
    instruction_phrases: dict[str, Patterns] = {}
    speaks: Patterns = []
    speaks_qualifiers: Patterns = []
    time_of_day: dict[TimeOfDay, Patterns] = {}
    weekdays: dict[Weekday, Patterns] = {}
    events: Patterns = []
    event_kinds: Patterns = []
    opening: Patterns = []
    programmes: Patterns = []
    concepts: dict[str, Patterns] = {}
    concept_expansions: dict[str, StrictStr] = {}
    contact: Patterns = []
    when: Patterns = []
    filler: Patterns = []
    months: Patterns = []
    relative_days: Patterns = []
    ambiguous_months: Patterns = []
    date_connectors: Patterns = []
    not_dates: Patterns = []
    window: _Window = _Window()


@dataclass(frozen=True, slots=True)
class Concept:
    """A need residents name in their own words, and the knowledge folder's words for it."""

    words: tuple[str, ...]
    expansion: str


Groups = dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Every language file merged: patterns by role, named groups in common.yaml's order."""

    languages: tuple[str, ...]  # the language files read, by name ("en", "it", ...)
    function_words: dict[str, frozenset[str]]  # by language
    audiences: Groups
    implied_audiences: Groups
    age_before: tuple[str, ...]
    age_after: tuple[str, ...]
    topics: Groups
    free: tuple[str, ...]
    not_free: tuple[str, ...]
    instruction_languages: Groups
    instruction_lead: tuple[str, ...]
    instruction_phrases: Groups
    speaks: tuple[str, ...]
    speaks_qualifiers: tuple[str, ...]
    time_of_day: dict[TimeOfDay, tuple[str, ...]]
    weekdays: dict[int, tuple[str, ...]]
    events: tuple[str, ...]
    event_kinds: tuple[str, ...]
    opening: tuple[str, ...]
    programmes: tuple[str, ...]
    concepts: dict[str, Concept]
    contact: tuple[str, ...]
    when: tuple[str, ...]
    filler: frozenset[str]
    months: tuple[str, ...]
    relative_days: tuple[str, ...]
    date_words: Groups  # months and relative days by language (which dateparser languages)
    ambiguous_months: tuple[str, ...]
    date_connectors: tuple[str, ...]
    not_dates: tuple[str, ...]
    window: Groups  # by WINDOWS name


@functools.cache
def default_vocabulary() -> Vocabulary:
    """Return the vocabulary shipped with the package, loaded and validated once."""
    return load_vocabulary(DATA_DIR)


def load_vocabulary(folder: Path) -> Vocabulary:
    """Read, validate and merge common.yaml and every other `*.yaml` file in `folder`."""
    common_path = folder / f"{COMMON}.yaml"
    if not common_path.is_file():
        raise VocabularyError(f"{common_path}: missing (it names every audience and topic)")
    common = _read(common_path)
    files = {COMMON: (common_path, common)}
    for path in sorted(folder.glob("*.yaml")):
        if path.stem != COMMON:
            files[path.stem] = (path, _read(path))
    declared: dict[str, list[str]] = {
        "audiences": list(common.audiences),
        "implied_audiences": list(common.audiences),
        "topics": list(common.topics),
        "time_of_day": list(common.time_of_day),
        "instruction_languages": list(common.instruction_languages),
        "instruction_phrases": list(common.instruction_languages),
        "concepts": list(common.concept_expansions),
    }
    for path, data in files.values():
        if data.concept_expansions and path != common_path:
            raise VocabularyError(f"{path}: concept_expansions: only {COMMON}.yaml declares them")
        for group, names in declared.items():
            for name in getattr(data, group):
                if name not in names:
                    raise VocabularyError(
                        f"{path}: {group}.{name}: not a name {COMMON}.yaml declares"
                        f" (known: {', '.join(names)})"
                    )
    parsed = [data for _, data in files.values()]

    def words(role: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for data in parsed for w in getattr(data, role)))

    def groups(role: str, names: list[Any]) -> dict[Any, tuple[str, ...]]:
        merged = {
            name: tuple(
                dict.fromkeys(w for data in parsed for w in getattr(data, role).get(name, ()))
            )
            for name in names
        }
        return {name: patterns for name, patterns in merged.items() if patterns}

    for group in ("audiences", "topics", "time_of_day", "instruction_languages", "concepts"):
        merged = groups(group, declared[group])
        for name in declared[group]:
            if name not in merged:
                raise VocabularyError(f"{common_path}: {group}.{name}: no file gives it words")
    concept_words = groups("concepts", declared["concepts"])
    return Vocabulary(
        languages=tuple(name for name in files if name != COMMON),
        function_words={
            name: frozenset(data.function_words)
            for name, (_, data) in files.items()
            if data.function_words
        },
        audiences=groups("audiences", declared["audiences"]),
        implied_audiences=groups("implied_audiences", declared["audiences"]),
        age_before=words("age_before"),
        age_after=words("age_after"),
        topics=groups("topics", declared["topics"]),
        free=words("free"),
        not_free=words("not_free"),
        instruction_languages=groups("instruction_languages", declared["instruction_languages"]),
        instruction_lead=words("instruction_lead"),
        instruction_phrases=groups("instruction_phrases", declared["instruction_languages"]),
        speaks=words("speaks"),
        speaks_qualifiers=words("speaks_qualifiers"),
        time_of_day=groups("time_of_day", declared["time_of_day"]),
        weekdays=groups("weekdays", list(range(7))),
        events=words("events"),
        event_kinds=words("event_kinds"),
        opening=words("opening"),
        programmes=words("programmes"),
        concepts={
            name: Concept(words=concept_words[name], expansion=expansion)
            for name, expansion in common.concept_expansions.items()
        },
        contact=words("contact"),
        when=words("when"),
        filler=frozenset(words("filler")),
        months=words("months"),
        relative_days=words("relative_days"),
        date_words={
            name: tuple(data.months) + tuple(data.relative_days)
            for name, (_, data) in files.items()
            if data.months or data.relative_days
        },
        ambiguous_months=words("ambiguous_months"),
        date_connectors=words("date_connectors"),
        not_dates=words("not_dates"),
        window={
            name: tuple(dict.fromkeys(w for data in parsed for w in getattr(data.window, name)))
            for name in WINDOWS
        },
    )


# The C parser when PyYAML has it: the pure-Python one takes half a second for these files.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> VocabularyFile:
    """Return the validated content of one file, or raise VocabularyError naming what is wrong."""
    try:
        loader = _Loader(path.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            raw = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise VocabularyError(f"{path}: cannot read: {error}") from error
    if not isinstance(raw, dict):
        raise VocabularyError(f"{path}: expected a mapping of lists, found {type(raw).__name__}")
    try:
        return VocabularyFile.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        location = [part for part in problem["loc"] if part not in ("[key]",)]
        key = ".".join(str(part) for part in location)
        line = _line(node, location)
        where = f"{path}, line {line}" if line else str(path)
        raise VocabularyError(
            f"{where}: {key}: {problem['msg']} (got {problem.get('input')!r})"
        ) from error


def _line(node: yaml.Node | None, location: list[Any]) -> int | None:
    """Return the 1-based line of the value at `location` in a composed YAML document."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line
