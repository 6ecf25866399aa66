"""`learncity import`: realistic .ics / JSON-LD / CSV sources into knowledge/partners/<name>/."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from learncity.content.loader import load_knowledge
from partners.errors import FetchError, UnsafeName
from partners.service import PartnerService
from tests.partners.conftest import FIXTURES, run_cli, snapshot

ROME = ZoneInfo("Europe/Rome")
ICS = FIXTURES / "biblioteca-agenda.ics"
JSONLD = FIXTURES / "cpia-offerta.jsonld"


def test_an_ics_feed_becomes_events_the_loader_reads(knowledge: Path) -> None:
    code, out = run_cli(knowledge, "import", str(ICS), "--partner", "biblioteca-ursino")
    assert code == 0, out
    assert "3 added" in out
    assert "DTSTART has no time zone: read as city time (Europe/Rome)" in out
    assert "mostra-2024' is in the past: not imported" in out

    kb = load_knowledge(knowledge)
    assert not [e for e in kb.errors if e.path.startswith("partners/")], kb.errors
    events = {k: v for k, v in kb.events.items() if k.startswith("biblioteca-ursino-")}
    assert set(events) == {
        "biblioteca-ursino-gruppo-lettura-2027",
        "biblioteca-ursino-laboratorio-fumetto-2027",
        "biblioteca-ursino-presentazione-libro",
    }
    series = events["biblioteca-ursino-gruppo-lettura-2027"]
    assert kb.path_of(series.id) == "partners/biblioteca-ursino/events/biblioteca-agenda.yaml"
    assert series.start == dt.datetime(2027, 1, 8, 17, 30) and series.timezone is None
    assert [t.value for t in series.topics] == ["reading"]
    assert [a.value for a in series.audiences] == ["adults", "seniors"]
    assert series.venue is not None and series.venue.lat == pytest.approx(37.4997)
    # The UNTIL (UTC in the feed) is local now; EXDATEs are skipped: 2 April is a Friday.
    fridays = series.occurrences(
        dt.datetime(2027, 3, 26, tzinfo=ROME), dt.datetime(2027, 4, 10, tzinfo=ROME), ROME
    )
    assert [d.date() for d in fridays] == [dt.date(2027, 3, 26), dt.date(2027, 4, 9)]
    last = series.occurrences(
        dt.datetime(2027, 6, 1, tzinfo=ROME), dt.datetime(2027, 8, 1, tzinfo=ROME), ROME
    )
    assert last[-1].date() == dt.date(2027, 6, 25)
    assert events["biblioteca-ursino-laboratorio-fumetto-2027"].status == "cancelled"
    floating = events["biblioteca-ursino-presentazione-libro"]
    assert floating.start == dt.datetime(2027, 3, 5, 18, 0)
    text = (knowledge / kb.path_of(series.id)).read_text("utf-8")
    assert "# partner: biblioteca-ursino" in text and f"# source: {ICS}" in text
    assert "# imported_at: " in text


def test_a_jsonld_graph_becomes_a_programme_and_an_event(knowledge: Path) -> None:
    code, out = run_cli(knowledge, "import", str(JSONLD), "--partner", "cpia")
    assert code == 0, out
    assert "@graph[4]: @type Product is not imported (skipped)" in out

    kb = load_knowledge(knowledge)
    course = kb.programmes["cpia-cpia-catania.example.org-corsi-italiano-a2"]
    assert course.title == {
        "it": "Italiano A2 per adulti stranieri",
        "en": "Italian A2 for foreign adults",
    }
    assert course.learning_type == "formal" and course.cost.free
    assert course.provider == "CPIA Catania 1 (esempio)"
    assert course.venue is not None and course.venue.address == "Viale Moncada 12, Catania"
    assert course.schedule is not None and course.schedule.start_date == dt.date(2027, 2, 1)
    assert [(s.day, f"{s.start:%H:%M}", f"{s.end:%H:%M}") for s in course.schedule.weekly] == [
        ("mon", "18:00", "20:00"),
        ("wed", "18:00", "20:00"),
    ]
    assert {t.value for t in course.topics} == {"italian-language"}
    assert {a.value for a in course.audiences} == {"migrants", "adults"}
    open_day = kb.events["cpia-cpia-catania.example.org-eventi-open-day-2027"]
    assert open_day.start == dt.datetime(2027, 1, 20, 17, 0) and open_day.cost.free


def test_our_own_csv_gets_the_partner_prefix(knowledge: Path, tmp_path: Path) -> None:
    source = tmp_path / "corsi.csv"
    source.write_text(
        "id,title_it,description_it,learning_type,topics,audiences,provider,weekly,free\n"
        "lettura-ad-alta-voce,Lettura ad alta voce,Leggiamo insieme,informal,reading,"
        "children,Biblioteca,sat 10:00-11:00,yes\n",
        encoding="utf-8",
    )
    code, out = run_cli(knowledge, "import", str(source), "--partner", "biblioteca-ursino")
    assert code == 0, out
    kb = load_knowledge(knowledge)
    assert "biblioteca-ursino-lettura-ad-alta-voce" in kb.programmes


def test_a_broken_ics_is_refused_with_lines_and_nothing_changes(
    knowledge: Path, tmp_path: Path
) -> None:
    assert run_cli(knowledge, "import", str(ICS), "--partner", "biblioteca-ursino")[0] == 0
    before = snapshot(knowledge)
    broken = tmp_path / "biblioteca-agenda.ics"  # same document name: would replace the good one
    broken.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//IT\r\nBEGIN:VEVENT\r\n"
        "UID:a@x\r\nDTSTART;TZID=Europe/Rome:20271345T180000\r\nSUMMARY:Bad date\r\n"
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:b@x\r\nDTSTART:20270301T100000\r\n"
        "DTEND:20270301T090000\r\nSUMMARY:Ends before it starts\r\nCATEGORIES:reading\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n",
        encoding="utf-8",
    )
    code, out = run_cli(knowledge, "import", str(broken), "--partner", "biblioteca-ursino")
    assert code == 1
    assert 'biblioteca-agenda.ics:6: DTSTART "20271345T180000" is not a date' in out
    assert "biblioteca-agenda.ics:9: end 2027-03-01 09:00:00 must be after start" in out
    assert snapshot(knowledge) == before


def test_broken_jsonld_names_the_field_or_the_line(knowledge: Path, tmp_path: Path) -> None:
    source = tmp_path / "eventi.jsonld"
    source.write_text(
        '{"@context": "https://schema.org", "@graph": [{"@type": "Event", "@id": "e1",'
        ' "name": "Festa", "startDate": "2027-13-45", "keywords": "music"}]}',
        encoding="utf-8",
    )
    before = snapshot(knowledge)
    code, out = run_cli(knowledge, "import", str(source), "--partner", "cpia")
    assert code == 1
    assert 'eventi.jsonld: @graph[0].startDate "2027-13-45" is not a date' in out
    source.write_text('{\n  "@type": "Event",\n  "name": "x"\n  "startDate": 1\n}', "utf-8")
    code, out = run_cli(knowledge, "import", str(source), "--partner", "cpia")
    assert code == 1 and "eventi.jsonld:4: not valid JSON" in out
    assert snapshot(knowledge) == before


def test_reimport_updates_in_place_and_removes_what_the_partner_removed(
    knowledge: Path, tmp_path: Path
) -> None:
    source = tmp_path / "agenda.ics"
    text = ICS.read_bytes().decode("utf-8")
    source.write_bytes(text.encode("utf-8"))
    assert run_cli(knowledge, "import", str(source), "--partner", "biblioteca-ursino")[0] == 0
    # The partner renames one event and drops the cancelled one.
    start = text.index("BEGIN:VEVENT\r\nUID:laboratorio-fumetto")
    end = text.index("END:VEVENT\r\n", start) + len("END:VEVENT\r\n")
    changed = (text[:start] + text[end:]).replace(
        "Gruppo di lettura del venerdì", "Gruppo di lettura (nuova sede)"
    )
    source.write_bytes(changed.encode("utf-8"))
    code, out = run_cli(knowledge, "import", str(source), "--partner", "biblioteca-ursino")
    assert code == 0 and "0 added, 1 updated, 1 removed, 1 unchanged" in out
    kb = load_knowledge(knowledge)
    assert kb.events["biblioteca-ursino-gruppo-lettura-2027"].title == (
        "Gruppo di lettura (nuova sede)"
    )
    assert "biblioteca-ursino-laboratorio-fumetto-2027" not in kb.events
    assert sorted(p.name for p in (knowledge / "partners/biblioteca-ursino/events").iterdir()) == [
        "agenda.yaml"
    ]


def test_the_same_uids_from_two_partners_are_both_kept(knowledge: Path) -> None:
    assert run_cli(knowledge, "import", str(ICS), "--partner", "biblioteca-ursino")[0] == 0
    assert run_cli(knowledge, "import", str(ICS), "--partner", "cpia")[0] == 0
    kb = load_knowledge(knowledge)
    assert "biblioteca-ursino-gruppo-lettura-2027" in kb.events
    assert "cpia-gruppo-lettura-2027" in kb.events
    assert not kb.errors


def test_names_that_try_to_leave_the_partner_folder_are_refused(knowledge: Path) -> None:
    before = snapshot(knowledge)
    code, _ = run_cli(knowledge, "import", str(ICS), "--partner", "../../contacts")
    assert code == 2
    code, _ = run_cli(
        knowledge, "import", str(ICS), "--partner", "cpia", "--name", "../../contacts.yaml"
    )
    assert code == 2
    service = PartnerService(knowledge_dir=knowledge, zone=ROME)
    with pytest.raises(UnsafeName, match="document name '../../contacts.yaml' is refused"):
        service.preview("cpia", ICS.read_bytes(), document="../../contacts.yaml", source="x")
    code, _ = run_cli(knowledge, "import", str(ICS), "--partner", "nobody")
    assert code == 2
    assert snapshot(knowledge) == before


def test_a_50_mb_source_is_refused_before_reading(
    knowledge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = tmp_path / "huge.ics"
    with huge.open("wb") as handle:  # sparse: 50 MB on paper, nothing on disk
        handle.truncate(50 * 1024 * 1024)
    code, _ = run_cli(knowledge, "import", str(huge), "--partner", "cpia")
    assert code == 1
    assert "the source is too large (50.0 MB; the limit is 5 MB)" in capsys.readouterr().err


async def test_a_url_that_never_finishes_times_out(knowledge: Path) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"BEGIN:VCALENDAR\r\n")
        await asyncio.sleep(3)  # far longer than the time-out
        return response

    app = web.Application()
    app.router.add_get("/agenda.ics", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        service = PartnerService(knowledge_dir=knowledge, zone=ROME, timeout=0.5)
        started = asyncio.get_running_loop().time()
        with pytest.raises(FetchError, match=r"no complete answer within 0.5 seconds"):
            await service.import_source(f"http://127.0.0.1:{port}/agenda.ics", "cpia")
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        await runner.cleanup()
    assert not os.path.exists(knowledge / "partners" / "cpia")


def test_imported_listings_answer_residents_with_their_cards(
    knowledge: Path, tmp_path: Path, embeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import retrieval.embedding

    monkeypatch.setattr(retrieval.embedding, "make_embeddings", lambda settings: embeddings)
    assert run_cli(knowledge, "import", str(ICS), "--partner", "biblioteca-ursino")[0] == 0
    assert run_cli(knowledge, "import", str(JSONLD), "--partner", "cpia")[0] == 0
    data = tmp_path / "data"
    code, out = run_cli(
        knowledge, "--data", str(data), "ask", "presentazione del libro Etna e dintorni", "--json"
    )
    assert code == 0, out
    answer = json.loads(out)
    assert not answer["abstained"]
    ids = [e["id"] for e in answer["events"]] + [s["record_id"] for s in answer["sources"]]
    assert "biblioteca-ursino-presentazione-libro" in ids, answer
