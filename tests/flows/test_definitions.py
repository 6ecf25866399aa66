"""Every shipped definition loads; broken ones are reported with path and line, and skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

from flows.definitions import FlowDefinition, load_definitions
from learncity.content.loader import load_knowledge
from learncity.content.models import Skill
from tests.flows.conftest import ASSESSMENTS


def test_shipped_flows_load(shipped: dict[str, FlowDefinition]) -> None:
    assert set(shipped) == {"lifecomp-quick", "lifecomp-full", "digcomp-quick"}
    assert len(shipped["lifecomp-quick"].items) == 9
    assert len(shipped["lifecomp-full"].items) == 27
    assert any(item.reverse for item in shipped["lifecomp-full"].items)
    for flow in shipped.values():
        for competence in flow.competences:
            assert competence.id in set(Skill), competence.id  # recommendations need skill codes
        for lang in ("it", "en"):
            for item in flow.items:
                assert item.text[lang]  # type: ignore[index]
            assert "test" in flow.disclaimer[lang]  # type: ignore[index]
    assert "CC BY 4.0" in shipped["lifecomp-quick"].credit["en"]  # type: ignore[index]
    europass = [link.url for link in shipped["digcomp-quick"].closing.links]
    assert europass == ["https://europa.eu/europass/digitalskills/"]


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge" / "assessments"
    shutil.copytree(ASSESSMENTS, target)
    return target


def test_broken_files_are_reported_with_path_and_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    text = (folder / "digcomp-quick.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    wrong = next(n for n, line in enumerate(lines) if "competence: digital-safety" in line
                 and lines[n - 1].strip().startswith("- id: ds1"))
    lines[wrong] = lines[wrong].replace("digital-safety", "digital-safty")
    (folder / "digcomp-quick.yaml").write_text("\n".join(lines), encoding="utf-8")
    (folder / "syntax.yaml").write_text("id: x\ntitle: [unclosed\n", encoding="utf-8")
    flows, errors = load_definitions(folder)
    assert set(flows) == {"lifecomp-quick", "lifecomp-full"}  # the others keep working
    by_path = {error.path: error for error in errors}
    assert by_path["assessments/digcomp-quick.yaml"].line == wrong + 1
    assert "unknown competence 'digital-safty'" in by_path["assessments/digcomp-quick.yaml"].message
    assert by_path["assessments/syntax.yaml"].line is not None
    assert str(by_path["assessments/syntax.yaml"]).startswith("assessments/syntax.yaml:")


def test_a_typo_in_a_field_name_points_at_its_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "lifecomp-full.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(n for n, line in enumerate(lines) if line.strip() == "reverse: true")
    lines[at] = lines[at].replace("reverse", "reversed")
    path.write_text("\n".join(lines), encoding="utf-8")
    flows, errors = load_definitions(folder)
    assert "lifecomp-full" not in flows
    # The quick flow extends the full one and still loads (it reads the raw file, not the model).
    problem = next(e for e in errors if e.path == "assessments/lifecomp-full.yaml")
    assert problem.line == at + 1 and "reversed" in problem.message


def test_last_good_version_keeps_serving(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    good, _ = load_definitions(folder)
    (folder / "digcomp-quick.yaml").write_text("id: digcomp-quick\nminutes: nope\n",
                                                encoding="utf-8")
    flows, errors = load_definitions(folder, previous=good)
    assert errors and flows["digcomp-quick"] is good["digcomp-quick"]


def test_yaml_mistakes_read_the_same_as_in_the_knowledge_folder(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    broken = "id: x\ntitle:\n\tit: Titolo\n"  # a tab for indentation
    (folder / "tabs.yaml").write_text(broken, encoding="utf-8")
    (folder / "twice.yaml").write_text("id: x\nid: y\n", encoding="utf-8")
    (tmp_path / "knowledge" / "programmes").mkdir()
    (tmp_path / "knowledge" / "programmes" / "tabs.yaml").write_text(broken, encoding="utf-8")
    _, errors = load_definitions(folder)
    by_path = {error.path: error for error in errors}
    flow_tab = by_path["assessments/tabs.yaml"]
    assert flow_tab.line == 3 and "indent with spaces only" in flow_tab.message
    assert by_path["assessments/twice.yaml"].line == 2
    assert "written twice (first on line 1)" in by_path["assessments/twice.yaml"].message
    content = load_knowledge(tmp_path / "knowledge")
    [content_tab] = [e for e in content.errors if e.path == "programmes/tabs.yaml"]
    assert (content_tab.line, content_tab.message) == (flow_tab.line, flow_tab.message)
