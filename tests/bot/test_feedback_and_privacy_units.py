"""Small pure parts: the "is it a new question?" heuristic and /privacy's readable rendering."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.answers import looks_like_question
from bot.privacy_view import privacy_html

ROME = ZoneInfo("Europe/Rome")


@pytest.mark.parametrize(
    "text",
    [
        "e corsi di inglese per adulti?",
        "Dove si trova la biblioteca",
        "quando apre la segreteria",
        "c'è un corso serale",
        "How much does it cost",
        "and for children?",
        "is there a course in July",
    ],
)
def test_questions_are_not_taken_as_a_reason(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "mancava l'orario del sabato",
        "The page about fees was missing",
        "I wanted the dates for next year",
        "risposta troppo generica",
    ],
)
def test_comments_are_reasons(text: str) -> None:
    assert not looks_like_question(text)


def test_privacy_is_a_readable_list_in_the_city_time_zone() -> None:
    fields: list[tuple[str, object]] = [
        ("language", "it"),
        ("interests", ["topic:digital-skills", "audience:adults"]),
        ("since", "2026-03-01"),
        (
            "reminders",
            [
                {
                    "kind": "event",
                    "id": "open-day",
                    "starts": "2026-07-01T16:30:00+00:00",
                    "offsets": ["1d", "1h"],
                }
            ],
        ),
        ("digest", {"opted_in": True, "interests": ["digital-skills"]}),
        (
            "assessment_results",
            [{"flow": "soft-skills", "finished_at": "2026-06-30T22:15:00", "means": {"a": 2.5}}],
        ),
        ("unanswered_questions", 2),
    ]
    html = privacy_html(
        fields, "it", zone=ROME, title_of=lambda kind, record, lang: "Open day del CPIA"
    )
    assert "{" not in html and "'" not in html and "T16:30" not in html
    assert "lingua: Italiano" in html
    assert "Competenze digitali" in html or "digital" in html.lower()
    assert "01/03/2026" in html
    assert "Open day del CPIA – 01/07/2026 alle 18:30" in html  # 16:30 UTC is 18:30 in Rome
    assert "1 giorno prima" in html
    assert "attivo" in html
    assert "01/07/2026 alle 00:15" in html  # a naive time from the store is UTC
    assert "domande a cui non ho saputo rispondere" in html and ": 2" in html
