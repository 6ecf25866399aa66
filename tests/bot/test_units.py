"""The bot's plain parts: HTML splitting, safeguarding, flood control, periods, gaps, storage."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.events import period_bounds
from bot.formatting import split_html
from bot.gaps import group_similar
from bot.persistence import SQLPersistence
from bot.storage import BotStorage, anonymise
from learncity.db import make_engine
from learncity.flood import FloodControl, Verdict
from learncity.i18n import catalog
from learncity.safeguarding import Concern, detect

ROME = ZoneInfo("Europe/Rome")


def _balanced(chunk: str) -> bool:
    stack: list[str] = []
    for match in re.finditer(r"<(/?)([a-z]+)[^>]*>", chunk):
        if match.group(1):
            if not stack or stack.pop() != match.group(2):
                return False
        else:
            stack.append(match.group(2))
    return not stack


def _visible(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\n", "")


def test_split_html_keeps_tags_balanced_and_loses_nothing() -> None:
    text = "<b>Title</b>\n" + "A line with &amp; and <i>italic words</i> here.\n" * 400
    text += (
        "<a href='https://example.org'>" + "link text " * 900 + "</a>" + "<b>" + "x" * 5000 + "</b>"
    )
    parts = split_html(text)
    assert len(parts) > 3
    assert all(len(part) <= 4096 for part in parts)
    assert all(_balanced(part) for part in parts)
    assert _visible("".join(parts)) == _visible(text)
    assert split_html("short <b>text</b>") == ["short <b>text</b>"]


def test_split_html_prefers_line_ends() -> None:
    lines = [f"line {number} " + "word " * 20 for number in range(300)]
    parts = split_html("\n".join(lines))
    assert all(part.rstrip().endswith(tuple("0123456789 d")) for part in parts)
    assert all(not part.startswith(" ") for part in parts)


@pytest.mark.parametrize(
    ("text", "concern"),
    [
        ("voglio morire", Concern.SELF_HARM),
        ("penso di farla finita", Concern.SELF_HARM),
        ("I keep thinking about hurting myself", Concern.SELF_HARM),
        ("il bambino dei vicini è in pericolo", Concern.CHILD_AT_RISK),
        ("a child is in danger next door", Concern.CHILD_AT_RISK),
        ("my uncle abused me", Concern.SEXUAL_ABUSE),
        ("mia zia è stata maltrattata", Concern.DOMESTIC_VIOLENCE),
        ("mio marito mi picchia", Concern.DOMESTIC_VIOLENCE),
        ("he hits me when he drinks", Concern.DOMESTIC_VIOLENCE),
        ("a scuola lo bullizzano", Concern.BULLYING),
        ("my daughter is being bullied online", Concern.BULLYING),
    ],
)
def test_safeguarding_spots_danger_in_both_languages(text: str, concern: Concern) -> None:
    found = detect(text)
    assert found is not None and concern in found.concerns


@pytest.mark.parametrize(
    "text",
    [
        "corsi di inglese per adulti",
        "free coding club for kids this weekend",
        "come iscrivo mio figlio alla scuola primaria?",
        "where is the library in Librino?",
        "quanto costa il corso serale",
    ],
)
def test_safeguarding_leaves_ordinary_questions_alone(text: str) -> None:
    assert detect(text) is None


async def test_flood_control_allows_a_burst_then_warns_once() -> None:
    flood = FloodControl(max_messages=3, window_seconds=60)
    verdicts = [await flood.check(1) for _ in range(5)]
    assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.WARN, Verdict.DROP]
    assert await flood.check(2) is Verdict.ALLOW  # per user
    flood.forget(1)
    assert await flood.check(1) is Verdict.ALLOW


def test_flood_control_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match=r"max_messages \(0\) must be at least 1"):
        FloodControl(max_messages=0, window_seconds=60)


def test_periods_in_the_city_time_zone() -> None:
    thursday = dt.datetime(2026, 12, 10, 15, 30, tzinfo=ROME)
    assert period_bounds("today", thursday) == (thursday, dt.datetime(2026, 12, 11, tzinfo=ROME))
    assert period_bounds("weekend", thursday) == (
        dt.datetime(2026, 12, 12, tzinfo=ROME),
        dt.datetime(2026, 12, 14, tzinfo=ROME),
    )
    sunday = dt.datetime(2026, 12, 13, 9, 0, tzinfo=ROME)
    assert period_bounds("weekend", sunday) == (sunday, dt.datetime(2026, 12, 14, tzinfo=ROME))
    assert period_bounds("week", thursday)[1] == dt.datetime(2026, 12, 14, tzinfo=ROME)
    assert period_bounds("month", thursday)[1] == dt.datetime(2027, 1, 1, tzinfo=ROME)
    # Across the end of daylight saving time, "today" still ends at local midnight.
    autumn = dt.datetime(2026, 10, 25, 1, 0, tzinfo=ROME)
    assert period_bounds("today", autumn)[1] == dt.datetime(2026, 10, 26, tzinfo=ROME)


def test_gaps_group_by_meaning(embeddings: object) -> None:
    texts = [
        "Where can I rent a kayak?",
        "kayak rental in the harbour",
        "What is the price of a flight to Tokyo?",
        "where to rent kayaks",
    ]
    vectors = embeddings.embed_documents(texts)  # type: ignore[attr-defined]
    gaps = group_similar(texts, vectors)
    assert gaps[0].count == 3 and "kayak" in gaps[0].text.lower()
    assert gaps[1].count == 1 and "Tokyo" in gaps[1].text


def test_anonymise_masks_contact_details() -> None:
    masked = anonymise("call me on +39 333 123 4567 or mail anna@example.org, see https://x.y/z")
    assert "333" not in masked and "anna@" not in masked and "https" not in masked


def test_storage_describes_and_forgets_a_user(tmp_path: Path) -> None:
    storage = BotStorage(engine=make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    storage.create_tables()
    assert storage.describe_user(5) == {}
    storage.set_language(5, "en")
    storage.add_interest(5, "topic:music", language="en")
    storage.record_feedback(user_id=5, answer_id="abcd1234", helpful=False)
    assert storage.record_reason(user_id=5, answer_id="abcd1234", reason="too vague")
    storage.set_language(6, "it")
    described = storage.describe_user(5)
    assert described["language"] == "en" and described["interests"] == ["topic:music"]
    assert described["feedback"] == 1
    assert storage.forget_user(5) == 2
    assert storage.describe_user(5) == {} and storage.language_of(5) is None
    assert storage.language_of(6) == "it"


async def test_persistence_round_trip_on_sql(tmp_path: Path) -> None:
    storage = BotStorage(engine=make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    storage.create_tables()
    persistence = SQLPersistence(storage=storage)
    await persistence.update_user_data(1, {"views": {"ab": {"cards": [["event", "x"]]}}})
    await persistence.update_chat_data(-5, {"k": 1})
    await persistence.update_bot_data({"version": 2})
    await persistence.update_conversation("feedback", (1, 1), "reason")
    await persistence.update_conversation("feedback", (2, 2), "reason")
    await persistence.update_conversation("feedback", (2, 2), None)

    again = SQLPersistence(storage=storage)
    assert await again.get_user_data() == {1: {"views": {"ab": {"cards": [["event", "x"]]}}}}
    assert await again.get_chat_data() == {-5: {"k": 1}}
    assert await again.get_bot_data() == {"version": 2}
    assert await again.get_conversations("feedback") == {(1, 1): "reason"}
    await again.drop_user_data(1)
    assert await again.get_user_data() == {}
    assert storage.forget_user(1) == 1  # the conversation row about user 1


def test_every_bot_text_exists_in_both_languages() -> None:
    italian = {key for key in catalog("it") if key.startswith("bot.")}
    english = {key for key in catalog("en") if key.startswith("bot.")}
    assert italian == english
    used = set()
    for path in Path(__file__).resolve().parents[2].joinpath("bot").glob("*.py"):
        used.update(re.findall(r'"(bot\.[a-z_.]+)"', path.read_text("utf-8")))
    assert used - english == set()


def test_answer_html_renders_each_part_once() -> None:
    from bot.formatting import answer_html
    from retrieval.types import Answer, Card, ContactInfo, Passage

    contact = ContactInfo(id="urp", name="Ufficio Relazioni con il Pubblico", phone="095 000")
    first = Card(kind="event", id="e1", title="Book swap", summary="", path="events/a.yaml")
    second = Card(kind="event", id="e2", title="Coding <club>", summary="", path="events/a.yaml")
    cards = (first, second)
    answer = Answer(question="q", lang="en", text="Found:", abstained=False, cards=cards)
    rendered = answer_html(answer)
    assert rendered.count("Book swap") == 1 and "Coding &lt;club&gt;" in rendered
    passage = Passage(
        title="School enrolment", heading="Who must enrol", text="Children aged 6.", path="g.md",
        lang="en",
    )
    guided = Answer(question="q", lang="en", text="", abstained=False, passage=passage)
    assert "<b>School enrolment › Who must enrol</b>\nChildren aged 6." in answer_html(guided)
    bare = Answer(question="q", lang="en", text="I don't know.", abstained=True, contact=contact)
    assert answer_html(bare).count("Ufficio Relazioni") == 1 and "095 000" in answer_html(bare)


def test_every_store_with_personal_data_is_listed_for_forget(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from app.root import user_stores

    class Store:
        def describe_user(self, user_id: int) -> dict[str, object]:
            return {}

        def forget_user(self, user_id: int) -> int:
            return 0

    storage = BotStorage(engine=make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    skills, reminder_store, contexts = Store(), Store(), Store()
    services = SimpleNamespace(
        skills=skills,  # a service that is itself a store
        reminders=SimpleNamespace(store=reminder_store),  # a service that holds one
        contexts=contexts,  # the conversations kept for follow-ups
    )
    expected = [storage, skills, reminder_store, contexts]
    assert user_stores(services, storage) == expected  # type: ignore[arg-type]
    bare = SimpleNamespace(skills=None, reminders=None, contexts=contexts)
    assert user_stores(bare, storage) == [storage, contexts]  # type: ignore[arg-type]


def test_the_error_log_holds_no_message_text_and_no_token() -> None:
    from bot.errors import _where

    resident_text = " ".join(["mio", "figlio", "ha", "7", "anni"])  # not in the source lines
    try:
        try:
            raise ValueError(f"cannot read {resident_text!r} at 123456:{'SEC' + 'RET'}")
        except ValueError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as error:
        logged = _where(error)
    assert "RuntimeError" in logged and "ValueError" in logged and "test_units.py" in logged
    assert "mio figlio" not in logged and "SECRET" not in logged
