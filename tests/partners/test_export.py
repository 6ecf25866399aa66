"""`learncity export`: the .ics parses with a second parser (vobject); both formats round-trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import vobject

from learncity.content.loader import load_knowledge
from tests.partners.conftest import FIXTURES, run_cli


def _partner_records(knowledge: Path, partner: str) -> dict[str, dict[str, object]]:
    kb = load_knowledge(knowledge)
    records = [*kb.programmes.values(), *kb.events.values()]
    found = {
        r.id: r.model_dump(mode="json")
        for r in records
        if kb.path_of(r.id).startswith(f"partners/{partner}/")
    }
    assert found, f"no records of {partner}"
    return found


def _fresh(knowledge: Path, tmp_path: Path) -> Path:
    other = tmp_path / "other"
    shutil.copytree(knowledge, other)
    shutil.rmtree(other / "partners")
    return other


def test_the_ics_export_parses_elsewhere_and_reimports_to_the_same_records(
    knowledge: Path, tmp_path: Path
) -> None:
    source = FIXTURES / "biblioteca-agenda.ics"
    assert run_cli(knowledge, "import", str(source), "--partner", "biblioteca-ursino")[0] == 0
    exported = tmp_path / "offerta.ics"
    code, _ = run_cli(
        knowledge,
        "export",
        "--format",
        "ics",
        "--partner",
        "biblioteca-ursino",
        "--output",
        str(exported),
    )
    assert code == 0

    calendar = vobject.readOne(exported.read_text("utf-8"))
    events = {str(e.uid.value): e for e in calendar.vevent_list}
    series = events["biblioteca-ursino-gruppo-lettura-2027@learncity"]
    assert series.dtstart.value.tzinfo is not None and series.dtstart.value.hour == 17
    starts = list(series.getrruleset(addRDate=True))
    assert len(starts) == 24 - 2  # 24 Fridays from 8 Jan to 25 Jun 2027, minus two EXDATEs
    assert events["biblioteca-ursino-laboratorio-fumetto-2027@learncity"].status.value == (
        "CANCELLED"
    )

    other = _fresh(knowledge, tmp_path)
    code, out = run_cli(other, "import", str(exported), "--partner", "biblioteca-ursino")
    assert code == 0, out
    assert _partner_records(other, "biblioteca-ursino") == _partner_records(
        knowledge, "biblioteca-ursino"
    )


def test_the_jsonld_export_reimports_to_the_same_records(knowledge: Path, tmp_path: Path) -> None:
    assert (
        run_cli(knowledge, "import", str(FIXTURES / "cpia-offerta.jsonld"), "--partner", "cpia")[0]
        == 0
    )
    exported = tmp_path / "offerta.jsonld"
    code, _ = run_cli(
        knowledge, "export", "--format", "jsonld", "--partner", "cpia", "--output", str(exported)
    )
    assert code == 0
    other = _fresh(knowledge, tmp_path)
    code, out = run_cli(other, "import", str(exported), "--partner", "cpia")
    assert code == 0, out
    assert _partner_records(other, "cpia") == _partner_records(knowledge, "cpia")


def test_the_whole_offer_exports_by_topic(knowledge: Path) -> None:
    code, out = run_cli(knowledge, "export", "--format", "ics", "--topic", "making")
    assert code == 0
    calendar = vobject.readOne(out)
    assert calendar.vevent_list and all(
        "making" in str(e.categories.value) for e in calendar.vevent_list
    )
