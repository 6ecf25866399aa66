"""Filters from the words of a question, and the question's language (Italian or English).

"corso di italiano gratis la sera per mia madre" -> Filters(audiences=("seniors",),
topics=("italian-language",), free_only=True, time_of_day="evening"). The words are data, one file
per language in `retrieval/vocabulary/`, all merged: "cours gratuits d'italien le soir" is read the
same way. Dates and relative days go through dateparser; ranges it does not know ("this weekend",
"next week", "a marzo" as a whole month) are computed here from the date it returns and the city's
time zone.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from zoneinfo import ZoneInfo

from anyascii import anyascii

from learncity.text import word_pattern
from retrieval.types import Filters
from retrieval.vocabulary import TimeOfDay, Vocabulary, default_vocabulary, fold

__all__ = [
    "ParsedQuestion",
    "QueryParser",
    "TimeOfDay",
    "detect_language",
    "fold",
    "merge_filters",
]

SENIOR_AGE = 60  # an age from which "I'm 70" hints at courses for seniors
# Ages that hint at who a course is for ("mio figlio di 8 anni": children), oldest first.
AGE_AUDIENCES = (
    (SENIOR_AGE, "seniors"),
    (30, "adults"),
    (18, "young-adults"),
    (12, "teens"),
    (0, "children"),
)
# Someone who does not speak the city's language is likely new to the country.
LOCAL_LANGUAGE = "it"
# dateparser always tries the languages of the knowledge folder, then those whose date words
# (months, "demain") the question holds.
DATEPARSER_LANGUAGES = ("it", "en")
DATE_SEARCH_CHARS = 160


def detect_language(text: str, default: str = "it") -> str:
    """Return "it" or "en" for a short question; `default` when the words do not tell."""
    # The answer languages only, and questions are short: a vote of function words beats general
    # detectors, which are unreliable under ten words ("corsi gratis?" is often "not Italian").
    function_words = default_vocabulary().function_words
    words = [word.strip("'") for word in re.findall(r"[a-z']+", fold(text))]
    words += [part for word in words if "'" in word for part in word.split("'")]
    italian = sum(1 for word in words if word in function_words.get("it", ()))
    english = sum(1 for word in words if word in function_words.get("en", ()))
    if italian == english:
        # Italian words end in a vowel far more often than English ones.
        vowel_end = sum(1 for word in words if len(word) > 2 and word[-1] in "aeiou")
        consonant_end = sum(1 for word in words if len(word) > 2 and word[-1] not in "aeiou")
        if vowel_end > consonant_end + 1:
            return "it"
        if consonant_end > vowel_end + 1:
            return "en"
        return default
    return "it" if italian > english else "en"


_ANY_ENDING = r"[\w'-]*"  # what a "*" at the end of a vocabulary word stands for


def _alternatives(patterns: Iterable[str]) -> str:
    """Return a regex alternation of vocabulary patterns, longest first; "*" ends a word freely."""
    parts = [re.escape(fold(pattern)).replace(r"\*", _ANY_ENDING) for pattern in patterns]
    return "|".join(sorted(parts, key=len, reverse=True)) or "(?!)"  # no words: never matches


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    """Return a pattern matching any of `patterns` as whole words (`word_pattern`)."""
    return word_pattern(patterns, any_ending=_ANY_ENDING)


@dataclass(frozen=True, slots=True)
class ParsedQuestion:
    """A question read for retrieval: its language, filters, and what kind of answer it wants."""

    text: str
    lang: str
    filters: Filters
    wants_events: bool
    wants_programmes: bool
    implied_audiences: tuple[str, ...] = ()  # in filters.audiences, but only guessed
    only_when: bool = False  # nothing asked but a time window (and filters): list the events
    expansion: str = ""  # the folder's words for the needs the question names (CONCEPTS)
    wants_contact: bool = False  # "who can help?": whom to turn to
    wants_time: bool = False  # "when?", "deadline?", "orari?": a date or an hour
    understood_words: tuple[str, ...] = ()  # folded words of the needs CONCEPTS recognised
    opening_hours: bool = False  # "aperta la domenica?": when a place is open (a guide answer)

    def names_subject(self) -> bool:
        """Return True when the words name what they are about: a topic, a district, a
        language taught or a need ("dove imparo l'inglese?"), not only a detail ("dov'è?")."""
        wanted = self.filters
        return bool(wanted.topics or wanted.districts or wanted.languages or self.understood_words)


class QueryParser:
    """Read filters from the words of a question, knowing the city's districts and time zone."""

    def __init__(
        self,
        *,
        districts: Iterable[str] = (),
        zone: ZoneInfo,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        words = vocabulary or default_vocabulary()
        self._zone = zone
        self._districts: dict[str, str] = {}
        for name in districts:
            if name and name.strip():
                self._districts.setdefault(fold(name), name)
        self._audiences = {key: _compile(group) for key, group in words.audiences.items()}
        self._implied = {key: _compile(group) for key, group in words.implied_audiences.items()}
        self._topics = {key: _compile(group) for key, group in words.topics.items()}
        self._free = _compile(words.free)
        self._not_free = _compile(words.not_free)
        self._times = {key: _compile(group) for key, group in words.time_of_day.items()}
        self._weekdays = {key: _compile(group) for key, group in words.weekdays.items()}
        self._events = _compile(words.events + words.event_kinds)
        self._generic_events = _compile(words.events)
        self._opening = _compile(words.opening)
        self._concepts = {key: _compile(c.words) for key, c in words.concepts.items()}
        self._expansions = {key: c.expansion for key, c in words.concepts.items()}
        self._months = _compile(words.months)
        self._contact = _compile(words.contact)
        self._when = _compile(words.when)
        self._programmes = _compile(words.programmes)
        self._filler = words.filler
        # "I'm 70", "ho 72 anni": the age of whom the course is for.
        self._age = re.compile(
            r"(?<![\w])(?:(?:" + _alternatives(words.age_before) + r") (\d{2,3})(?![\w])"
            r"|(\d{2,3}) ?(?:" + _alternatives(words.age_after) + r")(?![\w]))"
        )
        # "corsi in inglese": the language of the lessons, not a wish to learn English.
        lead = _alternatives(words.instruction_lead)
        self._instruction = {
            code: re.compile(
                r"(?<![\w])(?:" + lead + r") (?:" + _alternatives(group) + r")(?![\w])"
            )
            for code, group in words.instruction_languages.items()
        }
        self._instruction_extra = {
            code: _compile(group) for code, group in words.instruction_phrases.items()
        }
        self._language_names = {
            code: _compile(group) for code, group in words.instruction_languages.items()
        }
        self._speaks = re.compile(
            r"(?<![\w])(?:" + _alternatives(words.speaks) + r")"
            r"(?: (?:" + _alternatives(words.speaks_qualifiers) + r"))?"
            r" (?:l')?(?P<language>"
            + _alternatives(w for group in words.instruction_languages.values() for w in group)
            + r")(?![\w])"
        )
        self._window_words = {name: _compile(group) for name, group in words.window.items()}
        # dateparser only runs when one of these is present: it is slow on long text and finds
        # dates in words such as "may I ..." or "now".
        self._date_trigger = re.compile(
            r"\b(?:" + _alternatives(words.months + words.relative_days) + r")\b"
            r"|\d{1,2}[/.-]\d{1,2}"
        )
        self._date_languages = {code: _compile(group) for code, group in words.date_words.items()}
        self._month_names = frozenset(words.months)
        self._relative_days = frozenset(words.relative_days)
        self._ambiguous_months = frozenset(words.ambiguous_months)
        self._date_connectors = frozenset(words.date_connectors)
        self._not_dates = frozenset(words.not_dates)

    @property
    def districts(self) -> list[str]:
        """Return the district names the parser knows."""
        return sorted(self._districts.values())

    def parse(
        self, question: str, *, lang: str | None = None, now: dt.datetime | None = None
    ) -> ParsedQuestion:
        """Return the language, filters and wanted answer kind of `question`."""
        language = lang or detect_language(question)
        text = fold(question)
        moment = (now or dt.datetime.now(self._zone)).astimezone(self._zone)

        languages: list[str] = []
        for code, pattern in [*self._instruction.items(), *self._instruction_extra.items()]:
            if pattern.search(text) and code not in languages:
                languages.append(code)
        # "in inglese" is the language of the lessons, not a wish to learn English.
        topic_text = text
        for pattern in [*self._instruction.values(), *self._instruction_extra.values()]:
            topic_text = pattern.sub(" ", topic_text)

        # "She only speaks Arabic": the language of the person, not one to learn; someone who
        # does not speak the city's language is likely new to the country.
        speaks = self._speaks.search(topic_text)
        topic_text = self._speaks.sub(" ", topic_text)
        audiences = tuple(key for key, pattern in self._audiences.items() if pattern.search(text))
        implied = tuple(
            key
            for key, pattern in self._implied.items()
            if pattern.search(text) and key not in audiences
        )
        local = self._language_names.get(LOCAL_LANGUAGE)
        speaks_local = bool(speaks and local and local.search(speaks.group("language")))
        if speaks and not speaks_local and "migrants" not in audiences:
            implied += ("migrants",)
        ages = [int(a or b) for a, b in self._age.findall(text)]
        for age in ages:
            hinted = next(name for start, name in AGE_AUDIENCES if age >= start)
            if hinted not in audiences + implied:
                implied += (hinted,)
        audiences += implied
        topics = tuple(key for key, pattern in self._topics.items() if pattern.search(topic_text))
        free_only = bool(self._free.search(self._not_free.sub(" ", text)))
        time_of_day: TimeOfDay | None = next(
            (key for key, pattern in self._times.items() if pattern.search(text)), None
        )
        weekdays = tuple(day for day, pattern in self._weekdays.items() if pattern.search(text))
        wants_events = bool(self._events.search(text))
        wants_programmes = bool(self._programmes.search(text))
        opening = bool(self._opening.search(text)) and not (wants_events or wants_programmes)
        if opening:
            weekdays = ()  # the day is part of the question about opening hours
        after, before, window_days = self._window(text, language, moment)
        if window_days:
            weekdays = tuple(sorted(set(weekdays) | set(window_days))) if weekdays else ()
        filters = Filters(
            audiences=audiences,
            topics=topics,
            free_only=free_only,
            districts=self.find_districts(question),
            languages=tuple(languages),
            starts_after=after,
            starts_before=before,
            time_of_day=time_of_day,
            weekdays=weekdays,
        )
        # A date alone with other words does not make an event question ("the weather
        # tomorrow"); a date with nothing else does ("domani?", "a dicembre").
        has_window = after is not None or before is not None
        only_when = has_window and not wants_programmes and not self._rest(text)
        needs = [key for key, pattern in self._concepts.items() if pattern.search(text)]
        understood = tuple(
            dict.fromkeys(
                word
                for pattern in self._concepts.values()
                for match in pattern.finditer(text)
                for word in re.findall(r"\w+", match.group())
            )
        )
        return ParsedQuestion(
            text=question,
            lang=language,
            filters=filters,
            wants_events=wants_events,
            wants_programmes=wants_programmes,
            implied_audiences=implied,
            only_when=only_when,
            expansion=" ".join(self._expansions[key] for key in needs),
            wants_contact=bool(self._contact.search(text)),
            wants_time=bool(self._when.search(text)) or opening,
            understood_words=understood,
            opening_hours=opening,
        )

    def _rest(self, text: str) -> list[str]:
        """Return the words of folded `text` that are not time, filter or filler words."""
        patterns = [
            *self._audiences.values(),
            *self._implied.values(),
            *self._times.values(),
            *self._weekdays.values(),
            self._free,
            self._generic_events,
            self._months,
        ]
        for pattern in patterns:
            text = pattern.sub(" ", text)
        for district in self._districts:
            text = re.sub(r"(?<![\w])" + re.escape(district) + r"(?![\w])", " ", text)
        return [
            word
            for word in re.findall(r"[a-z0-9'\u0400-\u04ff]+", text)  # Latin and Cyrillic files
            if len(word.strip("'")) > 1
            and word.strip("'") not in self._filler
            and not word.isdigit()
        ]

    def find_districts(self, question: str) -> tuple[str, ...]:
        """Return the districts named in `question`, tolerating case, accents and small typos,
        in any script that spells them in letters ("либрино" is "librino")."""
        if not self._districts:
            return ()
        words = re.findall(r"[\w']+", fold(anyascii(question)))
        found: list[str] = []
        for size in (3, 2, 1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                if phrase in self._districts:
                    name = self._districts[phrase]
                elif len(phrase) >= 5:
                    close = difflib.get_close_matches(
                        phrase, list(self._districts), n=1, cutoff=0.84
                    )
                    if not close:
                        continue
                    name = self._districts[close[0]]
                else:
                    continue
                if name not in found:
                    found.append(name)
        return tuple(found)

    def _window(
        self, text: str, lang: str, now: dt.datetime
    ) -> tuple[dt.datetime | None, dt.datetime | None, tuple[int, ...]]:
        """Return the time window a question names (start, end, its weekdays), or Nones."""
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)

        def day(offset: int) -> dt.datetime:
            # Local midnight `offset` days away, right across daylight-saving changes.
            date = today.date() + dt.timedelta(days=offset)
            return dt.datetime.combine(date, dt.time(), tzinfo=self._zone)

        named = next((n for n, p in self._window_words.items() if p.search(text)), None)
        if named == "next_weekend":
            saturday = (5 - now.weekday()) % 7 or 7
            if now.weekday() == 6:
                saturday = 6
            start = day(saturday + (7 if now.weekday() < 5 else 0))
            return start, start + dt.timedelta(days=2), (5, 6)
        if named == "weekend":
            if now.weekday() >= 5:
                return now, day(7 - now.weekday()), (5, 6)
            start = day(5 - now.weekday())
            return start, start + dt.timedelta(days=2), (5, 6)
        if named == "next_week":
            start = day(7 - now.weekday())
            return start, start + dt.timedelta(days=7), ()
        if named == "this_week":
            return now, day(7 - now.weekday()), ()
        if named == "next_month":
            first = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            return (*_month(first.year, first.month, self._zone), ())
        if named == "this_month":
            return now, _month(now.year, now.month, self._zone)[1], ()
        if named == "day_after_tomorrow":
            return day(2), day(3), ()
        if named == "today":
            return now, day(1), ()
        if not self._date_trigger.search(text):
            return None, None, ()
        # Dates sit near the start of a question; dateparser is slow on long text.
        return self._dateparser_window(text[:DATE_SEARCH_CHARS], lang, now)

    def _dateparser_window(
        self, text: str, lang: str, now: dt.datetime
    ) -> tuple[dt.datetime | None, dt.datetime | None, tuple[int, ...]]:
        from dateparser.search import search_dates  # heavy: loaded on the first dated question

        settings = {
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "PREFER_DAY_OF_MONTH": "first",
        }
        named = [code for code, pattern in self._date_languages.items() if pattern.search(text)]
        languages = list(dict.fromkeys([lang, *DATEPARSER_LANGUAGES, *named]))
        found = search_dates(text, languages=languages, settings=settings) or []
        for matched, when in found:
            words = matched.strip().split()
            core = [word for word in words if word not in self._date_connectors]
            if not core:
                continue
            if (
                len(core) == 1
                and core[0] in self._ambiguous_months
                and words[0] not in ("in", "on")
            ):
                continue  # "may I ...", "march" as a verb
            if core[0] in self._not_dates:
                continue
            local = (
                when.replace(tzinfo=self._zone)
                if when.tzinfo is None
                else when.astimezone(self._zone)
            )
            has_day = (
                any(char.isdigit() for char in matched)
                or any(word in self._relative_days for word in core)
                or matched.strip() in self._relative_days
            )
            if not has_day and any(word in self._month_names for word in core):
                # "A dicembre" asked on 2 December: the rest of this December, not next year's
                # (dateparser prefers the future, and 1 December has passed).
                year = now.year if local.month == now.month else local.year
                start, end = _month(year, local.month, self._zone)
                if start < now < end:
                    start = now
                return start, end, ()
            start = dt.datetime.combine(local.date(), dt.time(), tzinfo=self._zone)
            end = dt.datetime.combine(
                local.date() + dt.timedelta(days=1), dt.time(), tzinfo=self._zone
            )
            return max(start, now) if start.date() == now.date() else start, end, ()
        return None, None, ()


def _month(year: int, month: int, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, month, 1, tzinfo=zone)
    following = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start, following


def merge_filters(understood: Filters, given: Filters | None) -> Filters:
    """Return the filters understood from the words, overridden by explicitly given ones."""
    if given is None or given.is_empty():
        return understood
    merged = understood
    for item in fields(Filters):
        value = getattr(given, item.name)
        if value not in ((), None, False):
            merged = replace(merged, **{item.name: value})
    return merged
