"""Flow definitions: the pydantic models of `knowledge/assessments/*.yaml` and their loader.

Staff edit these files. A file that fails is reported with its path, line and the exact problem and
skipped; the other files keep working, and with `previous` the last good version of the broken file
keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from yaml.nodes import Node

from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.models import TEXT_FALLBACKS, LocalizedText, Skill, Topic, text_in
from learncity.content.yaml_source import line_of_node, parse_yaml

log = logging.getLogger(__name__)

FlowId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=32)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)]
Loc = tuple[str | int, ...]


class _Strict(BaseModel):
    """Unknown fields are an error, so a typo is reported instead of ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Area(_Strict):
    """A group of competences (LifeComp: personal, social, learning to learn)."""

    id: Code
    name: LocalizedText


class Competence(_Strict):
    """One competence the flow measures; its id should be a programme skill code."""

    id: Code
    area: Code
    name: LocalizedText
    description: LocalizedText
    tip: LocalizedText | None = None  # one concrete idea to grow it, shown with the areas to grow


class Item(_Strict):
    """One statement the person rates on the scale."""

    id: Code
    competence: Code
    text: LocalizedText
    reverse: bool = False  # agreeing means less of the competence


class ScaleOption(_Strict):
    """One answer button: a value and its label."""

    value: int
    label: LocalizedText


class Scale(_Strict):
    """The answer scale (a Likert scale), lowest value first."""

    options: list[ScaleOption] = Field(min_length=2, max_length=7)

    @model_validator(mode="after")
    def _ascending(self) -> Scale:
        values = [option.value for option in self.options]
        if values != sorted(set(values)):
            raise ValueError(f"scale values must be distinct and ascending, not {values}")
        return self

    @property
    def low(self) -> int:
        """Return the lowest value."""
        return self.options[0].value

    @property
    def high(self) -> int:
        """Return the highest value."""
        return self.options[-1].value

    def values(self) -> list[int]:
        """Return every value, lowest first."""
        return [option.value for option in self.options]


class Band(_Strict):
    """A score band: from `min` (inclusive) up to the next band, with a label and an advice."""

    min: float
    label: LocalizedText
    advice: LocalizedText


class Scoring(_Strict):
    """How results are read: bands on the mean of a competence or area."""

    bands: list[Band] = Field(min_length=1)

    @model_validator(mode="after")
    def _bands_ascending(self) -> Scoring:
        mins = [band.min for band in self.bands]
        if mins != sorted(set(mins)):
            raise ValueError(f"band minimums must be distinct and ascending, not {mins}")
        return self

    def band_index(self, mean: float) -> int:
        """Return the index of the band `mean` falls in."""
        index = 0
        for position, band in enumerate(self.bands):
            # The tolerance keeps 3.4999999 (a mean of thirds) in the band starting at 3.5.
            if mean >= band.min - 1e-9:
                index = position
        return index


class Rule(_Strict):
    """Which programmes build a competence: programme skill codes and topics."""

    competence: Code
    skills: list[Skill] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)


class Link(_Strict):
    """A link shown with the results (the official Europass test, the framework page)."""

    label: LocalizedText
    url: Annotated[str, StringConstraints(pattern=r"^https://\S+$")]


class Closing(_Strict):
    """What the results end with: a text and links."""

    text: LocalizedText | None = None
    links: list[Link] = Field(default_factory=list)


class FlowDefinition(_Strict):
    """A whole guided self-assessment, as staff write it in YAML."""

    id: FlowId
    version: int = Field(1, ge=1)
    extends: FlowId | None = None  # take every field left out (and items given by id) from it
    family: Code | None = None  # flows of one family compare with each other's results
    title: LocalizedText
    intro: LocalizedText
    disclaimer: LocalizedText
    credit: LocalizedText | None = None
    minutes: int = Field(ge=1, le=60)
    order: int = 100  # position in the list of flows
    areas: list[Area] = Field(min_length=1)
    competences: list[Competence] = Field(min_length=1)
    scale: Scale
    items: list[Item] = Field(min_length=1, max_length=60)
    scoring: Scoring
    recommendations: list[Rule] = Field(default_factory=list)
    closing: Closing = Field(default_factory=Closing)

    _path: str = PrivateAttr(default="")

    @property
    def path(self) -> str:
        """Return the file the definition came from."""
        return self._path

    @property
    def history_key(self) -> str:
        """Return the key results are compared under (the family, else the id)."""
        return self.family or self.id

    def competence(self, competence_id: str) -> Competence:
        """Return the competence with `competence_id`."""
        for competence in self.competences:
            if competence.id == competence_id:
                return competence
        raise KeyError(f"flow {self.id!r} has no competence {competence_id!r}")

    def area(self, area_id: str) -> Area:
        """Return the area with `area_id`."""
        for area in self.areas:
            if area.id == area_id:
                return area
        raise KeyError(f"flow {self.id!r} has no area {area_id!r}")

    def rule(self, competence_id: str) -> Rule:
        """Return the recommendation rule of a competence (its own skill code when none is set)."""
        for rule in self.recommendations:
            if rule.competence == competence_id:
                return rule
        skills = [Skill(competence_id)] if competence_id in set(Skill) else []
        return Rule(competence=competence_id, skills=skills)

    def languages(self) -> tuple[str, ...]:
        """Return the languages every question and answer of this flow is written in.

        A text with no language keys counts as Italian (the city's language). Italian and English
        come first, then the others in the order the file first names them.
        """
        texts = [item.text for item in self.items] + [option.label for option in self.scale.options]
        found: list[str] | None = None
        for text in texts:
            written = text.items() if isinstance(text, dict) else ()
            codes = [code for code, value in written if value] or ["it"]
            found = codes if found is None else [code for code in found if code in codes]
        found = found or []
        first = [code for code in ("it", "en") if code in found]
        return (*first, *(code for code in found if code not in first))

    def language_for(self, lang: str) -> str:
        """Return the language to run this flow in for `lang`: that one, else en, else it."""
        available = self.languages()
        for code in (lang, *TEXT_FALLBACKS):
            if code in available:
                return code
        return available[0] if available else lang

    def text(self, value: LocalizedText | None, lang: str) -> str:
        """Return a text of this flow for a `lang` speaker, in the language the flow runs in.

        One language for the whole flow: a question translated into French next to one that is
        not would otherwise switch language half-way.
        """
        return text_in(value, self.language_for(lang))


def reference_problems(flow: FlowDefinition) -> list[tuple[Loc, str]]:
    """Return the cross-reference problems of a definition, each with where it is."""
    problems: list[tuple[Loc, str]] = []

    def unique(kind: str, ids: Iterable[str]) -> None:
        seen: set[str] = set()
        for index, value in enumerate(ids):
            if value in seen:
                problems.append(((kind, index, "id"), f"duplicate {kind[:-1]} id {value!r}"))
            seen.add(value)

    unique("areas", (area.id for area in flow.areas))
    unique("competences", (competence.id for competence in flow.competences))
    unique("items", (item.id for item in flow.items))
    area_ids = {area.id for area in flow.areas}
    competence_ids = [competence.id for competence in flow.competences]
    for index, competence in enumerate(flow.competences):
        if competence.area not in area_ids:
            problems.append(
                (("competences", index, "area"), f"unknown area {competence.area!r} "
                 f"(areas: {', '.join(sorted(area_ids))})")
            )
    for index, item in enumerate(flow.items):
        if item.competence not in competence_ids:
            problems.append(
                (("items", index, "competence"), f"unknown competence {item.competence!r}")
            )
    asked = {item.competence for item in flow.items}
    for index, competence in enumerate(flow.competences):
        if competence.id not in asked:
            problems.append(
                (("competences", index, "id"), f"competence {competence.id!r} has no items")
            )
    for index, rule in enumerate(flow.recommendations):
        if rule.competence not in competence_ids:
            problems.append(
                (("recommendations", index, "competence"),
                 f"unknown competence {rule.competence!r}")
            )
    if flow.scoring.bands[0].min > flow.scale.low:
        problems.append(
            (("scoring", "bands", 0, "min"),
             f"the first band must start at or below the lowest scale value ({flow.scale.low})")
        )
    return problems


def _line_of(root: Node | None, loc: Loc) -> int | None:
    """Return the 1-based line of the YAML node at `loc` (the nearest enclosing one)."""
    return None if root is None else line_of_node(root, loc)


def _where(loc: Loc) -> str:
    return ".".join(str(part) for part in loc if part not in ("str", "dict[str,str]"))


def _parse(path: Path, shown: str) -> tuple[Node | None, Any, list[KnowledgeError]]:
    """Read and parse one YAML file; return its node tree, its data and its problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, None, [KnowledgeError(shown, None, f"cannot read the file: {error}")]
    try:
        data, root = parse_yaml(shown, text)
    except InvalidFile as error:
        return None, None, error.errors
    if not isinstance(data, dict):
        message = "a flow definition must be a mapping of fields"
        return None, None, [KnowledgeError(shown, 1, message)]
    return root, data, []


def _extend(
    data: dict[str, Any], bases: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any], list[tuple[Loc, str]]]:
    """Fill a flow that `extends` another: every field it leaves out, and items given by id."""
    base_id = data.get("extends")
    if base_id is None:
        return data, []
    base = bases.get(str(base_id))
    if base is None or base.get("extends") is not None:
        known = ", ".join(sorted(k for k, v in bases.items() if v.get("extends") is None))
        return data, [(("extends",), f"no flow {base_id!r} to extend here (known: {known})")]
    merged = {key: value for key, value in base.items() if key not in ("id", "order", "version")}
    merged.update(data)
    base_items = {item.get("id"): item for item in base.get("items", []) if isinstance(item, dict)}
    items: list[Any] = []
    problems: list[tuple[Loc, str]] = []
    for index, item in enumerate(data.get("items") or []):
        if isinstance(item, str):
            if item not in base_items:
                problems.append((("items", index), f"no item {item!r} in flow {base_id!r}"))
                continue
            items.append(base_items[item])
        else:
            items.append(item)
    if "items" in data:
        merged["items"] = items
    return merged, problems


def _build(
    shown: str, root: Node | None, data: dict[str, Any],
    bases: Mapping[str, dict[str, Any]] | None = None,
) -> tuple[FlowDefinition | None, list[KnowledgeError]]:
    """Validate parsed data into a definition; return it (or None) and its problems."""
    data, problems = _extend(data, bases or {})
    if problems:
        return None, [
            KnowledgeError(shown, _line_of(root, loc), f"{_where(loc)}: {message}")
            for loc, message in problems
        ]
    try:
        flow = FlowDefinition.model_validate(data)
    except ValidationError as error:
        found = []
        for detail in error.errors():
            loc = tuple(detail["loc"])
            where = _where(loc)
            message = f"{where}: {detail['msg']}" if where else str(detail["msg"])
            found.append(KnowledgeError(shown, _line_of(root, loc), message))
        return None, found
    references = reference_problems(flow)
    if references:
        return None, [
            KnowledgeError(shown, _line_of(root, loc), f"{_where(loc)}: {message}")
            for loc, message in references
        ]
    flow._path = shown
    return flow, []


def load_definitions(
    directory: Path, *, previous: Mapping[str, FlowDefinition] | None = None
) -> tuple[dict[str, FlowDefinition], list[KnowledgeError]]:
    """Load every `*.yaml` flow in `directory`; broken files are reported and skipped.

    With `previous`, a file that is broken now keeps its last good definition.
    """
    flows: dict[str, FlowDefinition] = {}
    errors: list[KnowledgeError] = []
    if not directory.is_dir():
        return flows, [KnowledgeError(str(directory), None, "the assessments folder is missing")]
    parsed: list[tuple[str, Node | None, dict[str, Any] | None, list[KnowledgeError]]] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        shown = _display(path, directory)
        root, data, problems = _parse(path, shown)
        parsed.append((shown, root, data, problems))
    bases = {str(data["id"]): data for _, _, data, _ in parsed if data and "id" in data}
    for shown, root, data, problems in parsed:
        flow = None
        if data is not None:
            flow, problems = _build(shown, root, data, bases)
        if flow is None:
            errors.extend(problems)
            for problem in problems:
                log.warning("skipped flow definition %s", problem)
            flow = next((old for old in (previous or {}).values() if old.path == shown), None)
            if flow is None:
                continue
        if flow.id in flows:
            errors.append(
                KnowledgeError(shown, 1, f"flow id {flow.id!r} is already used by "
                               f"{flows[flow.id].path}")
            )
            continue
        flows[flow.id] = flow
    return flows, errors


def _display(path: Path, directory: Path) -> str:
    """Return the path as staff know it: relative to the knowledge folder when possible."""
    try:
        return str(path.relative_to(directory.parent))
    except ValueError:
        return str(path)
