"""Filters and language understood from residents' words (fixed `now`, the city's time zone)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from retrieval.query import QueryParser, detect_language, merge_filters
from retrieval.types import Filters

ROME = ZoneInfo("Europe/Rome")
WEDNESDAY = dt.datetime(2026, 11, 18, 10, 0, tzinfo=ROME)


@pytest.fixture(scope="module")
def parser() -> QueryParser:
    return QueryParser(districts=["Librino", "Centro storico", "San Berillo", "Ognina"], zone=ROME)


def midnight(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=ROME)


def test_colloquial_italian_course_question(parser: QueryParser) -> None:
    parsed = parser.parse("corso di italiano gratis la sera per mia madre?", now=WEDNESDAY)
    assert parsed.lang == "it"
    assert parsed.filters.audiences == ("seniors",)
    assert parsed.filters.topics == ("italian-language",)
    assert parsed.filters.free_only is True
    assert parsed.filters.time_of_day == "evening"
    assert parsed.wants_programmes


def test_audiences_in_both_languages(parser: QueryParser) -> None:
    cases = {
        "attività per anziani over 60": "seniors",
        "laboratori per bambini": "children",
        "something for teenagers": "teens",
        "corsi per stranieri": "migrants",
        "sono disoccupato, corsi?": "job-seekers",
        "courses for job seekers": "job-seekers",
        "sport per ragazzi disabili": "people-with-disabilities",
    }
    for question, audience in cases.items():
        assert audience in parser.parse(question, now=WEDNESDAY).filters.audiences, question


def test_this_weekend_is_the_coming_saturday_and_sunday(parser: QueryParser) -> None:
    for question in ("eventi per bambini questo fine settimana", "what's on this weekend?"):
        parsed = parser.parse(question, now=WEDNESDAY)
        assert parsed.wants_events
        assert parsed.filters.starts_after == midnight(2026, 11, 21)
        assert parsed.filters.starts_before == midnight(2026, 11, 23)


def test_weekend_asked_on_sunday_is_the_rest_of_today(parser: QueryParser) -> None:
    sunday = dt.datetime(2026, 11, 22, 15, 0, tzinfo=ROME)
    filters = parser.parse("eventi nel weekend", now=sunday).filters
    assert filters.starts_after == sunday
    assert filters.starts_before == midnight(2026, 11, 23)


def test_tomorrow_and_domani_are_the_next_day(parser: QueryParser) -> None:
    for question in ("cosa c'è domani?", "events tomorrow evening"):
        filters = parser.parse(question, now=WEDNESDAY).filters
        assert (filters.starts_after, filters.starts_before) == (
            midnight(2026, 11, 19),
            midnight(2026, 11, 20),
        ), question
    assert parser.parse("events tomorrow evening", now=WEDNESDAY).filters.time_of_day == "evening"


def test_a_month_is_the_whole_next_such_month(parser: QueryParser) -> None:
    filters = parser.parse("corsi a marzo per anziani", now=WEDNESDAY).filters
    assert (filters.starts_after, filters.starts_before) == (
        midnight(2027, 3, 1),
        midnight(2027, 4, 1),
    )
    english = parser.parse("workshops in March", lang="en", now=WEDNESDAY).filters
    assert english.starts_after == midnight(2027, 3, 1)


def test_next_week_and_weekdays(parser: QueryParser) -> None:
    filters = parser.parse("next week events for teens", now=WEDNESDAY).filters
    assert (filters.starts_after, filters.starts_before) == (
        midnight(2026, 11, 23),
        midnight(2026, 11, 30),
    )
    saturday = parser.parse("il sabato mattina ci sono laboratori?", now=WEDNESDAY).filters
    assert saturday.weekdays == (5,)
    assert saturday.time_of_day == "morning"


def test_words_that_are_not_dates_give_no_window(parser: QueryParser) -> None:
    for question in (
        "may I bring my son?",
        "where can I learn Italian now",
        "la sera dopo il lavoro",
    ):
        filters = parser.parse(question, now=WEDNESDAY).filters
        assert filters.starts_after is None and filters.starts_before is None, question


def test_district_names_tolerate_case_accents_and_typos(parser: QueryParser) -> None:
    assert parser.find_districts("cosa c'è a LIBRINNO?") == ("Librino",)
    assert parser.find_districts("events in the centro storico") == ("Centro storico",)
    assert parser.find_districts("qualcosa a san bérillo") == ("San Berillo",)
    assert parser.find_districts("corsi di italiano") == ()


def test_language_of_instruction_is_not_a_topic(parser: QueryParser) -> None:
    filters = parser.parse("corsi di informatica in inglese", now=WEDNESDAY).filters
    assert filters.languages == ("en",)
    assert "foreign-languages" not in filters.topics
    assert "digital-skills" in filters.topics
    learn = parser.parse("I want to learn English", now=WEDNESDAY).filters
    assert learn.languages == () and "foreign-languages" in learn.topics


def test_free_but_not_free_time(parser: QueryParser) -> None:
    assert parser.parse("free courses for adults", now=WEDNESDAY).filters.free_only
    assert not parser.parse("cosa fare nel tempo libero", now=WEDNESDAY).filters.free_only
    assert not parser.parse("things to do in my free time", now=WEDNESDAY).filters.free_only


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("corsi gratis?", "it"),
        ("corso di italiano per mia madre", "it"),
        ("mio figlio non va più a scuola", "it"),
        ("free courses?", "en"),
        ("my son stopped going to school, who can help?", "en"),
        ("where can I learn Italian", "en"),
        ("SPID", "it"),
    ],
)
def test_detect_language_of_short_questions(question: str, lang: str) -> None:
    assert detect_language(question, default="it") == lang


def test_given_filters_override_the_words() -> None:
    understood = Filters(audiences=("seniors",), free_only=True)
    merged = merge_filters(understood, Filters(audiences=("children",)))
    assert merged.audiences == ("children",) and merged.free_only


SATURDAY = dt.datetime(2026, 11, 21, 7, 10, tzinfo=ROME)


@pytest.mark.parametrize(
    "question",
    [
        "what is on this weekend?",
        "cosa c'è questo weekend",
        "cosa c e questo fine settimana per bambini?",
        "cosa ce sabato e domenica",
        "che c'e questo weekend",
        "anything happening this weekend?",
    ],
)
def test_whats_on_in_any_spelling_asks_for_events(parser: QueryParser, question: str) -> None:
    parsed = parser.parse(question, now=SATURDAY)
    assert parsed.wants_events, question
    assert parsed.filters.starts_after == SATURDAY
    assert parsed.filters.starts_before == midnight(2026, 11, 23)


@pytest.mark.parametrize(
    ("question", "only_when"),
    [
        ("domani", True),
        ("stasera?", True),
        ("a dicembre", True),
        ("questo fine settimana a Librino, gratis", True),
        ("something for the kids next week", True),
        ("iscrizioni scuola a gennaio", False),
        ("the weather tomorrow", False),
        ("corsi a marzo per anziani", False),
    ],
)
def test_a_question_of_only_a_time_window(
    parser: QueryParser, question: str, only_when: bool
) -> None:
    assert parser.parse(question, now=SATURDAY).only_when is only_when, question


def test_month_and_weekday_names_tell_the_language() -> None:
    assert detect_language("a dicembre") == "it"
    assert detect_language("sabato?") == "it"
    assert detect_language("on saturday", default="it") == "en"


def test_needs_in_residents_words_bring_the_folders_words() -> None:
    parser = QueryParser(zone=ROME)
    english = parser.parse("my son stopped going to school, who can help?", now=SATURDAY)
    assert "dispersione scolastica" in english.expansion
    assert english.wants_contact
    italian = parser.parse("mia figlia ha la dislessia, a chi mi rivolgo?", now=SATURDAY)
    assert "special educational needs" in italian.expansion and italian.wants_contact
    assert parser.parse("corsi di inglese gratis", now=SATURDAY).expansion == ""


def test_the_language_someone_speaks_is_not_a_topic(parser: QueryParser) -> None:
    parsed = parser.parse("i need italian classes for my wife, she only speaks arabic")

    assert parsed.filters.topics == ("italian-language",)
    assert "migrants" in parsed.implied_audiences


def test_open_on_a_weekday_asks_for_opening_hours(parser: QueryParser) -> None:
    parsed = parser.parse("biblioteca aperta la domenica?")

    assert parsed.opening_hours and parsed.wants_time
    assert parsed.filters.weekdays == ()


def test_a_kind_of_event_with_a_month_is_not_a_window_alone(parser: QueryParser) -> None:
    assert not parser.parse("concerti a dicembre").only_when
    assert parser.parse("eventi a dicembre").only_when


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("dove posso prendere il diploma la sera?", "adult-education"),
        ("evening diploma for adults", "adult-education"),
        ("c'è una scuola serale?", "adult-education"),
        ("maker space", "making"),
        ("financial literacy course", "finance"),
    ],
)
def test_naming_a_school_or_a_course_asks_for_programmes(
    parser: QueryParser, question: str, topic: str
) -> None:
    parsed = parser.parse(question, now=WEDNESDAY)

    assert parsed.wants_programmes
    assert topic in parsed.filters.topics


@pytest.mark.parametrize(
    ("question", "implied"),
    [
        ("I want to learn to use a computer, I'm 70", ("seniors",)),
        ("mio padre ha 82 anni, corsi di computer?", ("seniors",)),
        ("ho 40 anni, corsi di inglese?", ("adults",)),
        ("tengo 45 años y quiero terminar la secundaria", ("adults",)),
        ("ho 19 anni e ho lasciato la scuola", ("young-adults",)),
        ("mia figlia ha 15 anni", ("teens",)),
        ("mio figlio di 10 anni", ("children",)),
        ("corso a 60 euro", ()),
    ],
)
def test_an_age_hints_at_who_a_course_is_for(
    parser: QueryParser, question: str, implied: tuple[str, ...]
) -> None:
    assert parser.parse(question, now=WEDNESDAY).implied_audiences == implied


def test_a_french_question_is_understood_from_the_merged_vocabulary(parser: QueryParser) -> None:
    parsed = parser.parse("cours gratuits d'italien pour adultes le soir", now=WEDNESDAY)

    assert parsed.filters.free_only
    assert parsed.filters.topics == ("italian-language",)
    assert parsed.filters.audiences == ("adults",)
    assert parsed.filters.time_of_day == "evening"
    assert parsed.wants_programmes


@pytest.mark.parametrize(
    ("question", "audiences", "topics", "free_only", "time_of_day", "weekdays"),
    [
        (
            "clases de informática gratis para personas mayores por la mañana",
            ("seniors",),
            ("digital-skills",),
            True,
            "morning",
            (),
        ),
        (
            "kostenloser Italienischkurs für Flüchtlinge am Abend",
            ("migrants",),
            ("italian-language",),
            True,
            "evening",
            (),
        ),
        (
            "aulas de português para crianças no sábado à tarde",
            ("children",),
            (),
            False,
            "afternoon",
            (5,),
        ),
        ("atelier de cuisine le mercredi après-midi", (), ("cooking",), False, "afternoon", (2,)),
        # Polish with its letters, and typed on an ASCII keyboard ("ł" as "l", "ó" as "o").
        (
            "darmowy kurs włoskiego dla seniorów wieczorem",
            ("seniors",),
            ("italian-language",),
            True,
            "evening",
            (),
        ),
        (
            "darmowy kurs wloskiego dla seniorow wieczorem",
            ("seniors",),
            ("italian-language",),
            True,
            "evening",
            (),
        ),
        # Turkish with its dotless "ı", and without it.
        (
            "çocuklar için ücretsiz İngilizce kursu cumartesi",
            ("children",),
            ("foreign-languages",),
            True,
            None,
            (5,),
        ),
        (
            "cocuklar icin ucretsiz ingilizce kursu cumartesi",
            ("children",),
            ("foreign-languages",),
            True,
            None,
            (5,),
        ),
        (
            "gratis Italiaanse les voor ouderen op zaterdag",
            ("seniors",),
            ("italian-language",),
            True,
            None,
            (5,),
        ),
        (
            "бесплатные курсы итальянского для пенсионеров вечером",
            ("seniors",),
            ("italian-language",),
            True,
            "evening",
            (),
        ),
        (
            "безкоштовні курси італійської для дітей у суботу",
            ("children",),
            ("italian-language",),
            True,
            None,
            (5,),
        ),
        (
            "curs gratuit de limba italiana pentru copii sâmbătă",
            ("children",),
            ("italian-language",),
            True,
            None,
            (5,),
        ),
        (
            "دروس اللغة الإيطالية مجانا للأطفال يوم السبت",  # Arabic, with its prefixes
            ("children",),
            ("italian-language",),
            True,
            None,
            (5,),
        ),
        ("周六有免费的儿童意大利语课吗", ("children",), ("italian-language",), True, None, (5,)),
    ],
)
def test_questions_in_other_languages_give_filters(
    parser: QueryParser,
    question: str,
    audiences: tuple[str, ...],
    topics: tuple[str, ...],
    free_only: bool,
    time_of_day: str | None,
    weekdays: tuple[int, ...],
) -> None:
    filters = parser.parse(question, now=WEDNESDAY).filters

    assert filters.audiences == audiences, question
    assert filters.topics == topics, question
    assert filters.free_only is free_only, question
    assert filters.time_of_day == time_of_day, question
    assert filters.weekdays == weekdays, question


def test_a_district_written_in_another_script_is_found(parser: QueryParser) -> None:
    assert parser.find_districts("курсы итальянского вечером в либрино") == ("Librino",)
    assert parser.find_districts("курси італійської в Лібрино") == ("Librino",)
    assert parser.find_districts("курсы итальянского") == ()


def test_time_windows_and_needs_in_other_languages(parser: QueryParser) -> None:
    weekend = parser.parse("qu'est-ce qui se passe ce week-end ?", now=WEDNESDAY)
    assert weekend.wants_events and weekend.only_when
    assert weekend.filters.starts_after == midnight(2026, 11, 21)
    assert parser.parse("eventos la próxima semana", now=WEDNESDAY).filters.starts_after == (
        midnight(2026, 11, 23)
    )
    assert parser.parse("Kurse auf Englisch", now=WEDNESDAY).filters.languages == ("en",)
    dropout = parser.parse("mon fils ne va plus à l'école, à qui m'adresser ?", now=WEDNESDAY)
    assert "dispersione scolastica" in dropout.expansion and dropout.wants_contact
    speaks = parser.parse("curso de italiano, mi madre solo habla árabe", now=WEDNESDAY)
    assert speaks.filters.topics == ("italian-language",)
    assert speaks.implied_audiences == ("seniors", "migrants")


def test_the_current_month_means_the_rest_of_it() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Rome")
    now = dt.datetime(2026, 12, 2, 10, 0, tzinfo=zone)
    parsed = QueryParser(zone=zone).parse("eventi a dicembre?", lang="it", now=now)
    assert parsed.filters.starts_after == now
    assert parsed.filters.starts_before == dt.datetime(2027, 1, 1, tzinfo=zone)
    later = QueryParser(zone=zone).parse("eventi a marzo?", lang="it", now=now)
    assert later.filters.starts_after == dt.datetime(2027, 3, 1, tzinfo=zone)
