"""Filters from the words of a question (Italian or English), and the question's language.

"corso di italiano gratis la sera per mia madre" -> Filters(audiences=("seniors",),
topics=("italian-language",), free_only=True, time_of_day="evening"). Dates and relative days go
through dateparser; ranges it does not know ("this weekend", "next week", "a marzo" as a whole
month) are computed here from the date it returns and the city's time zone.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Literal
from zoneinfo import ZoneInfo

from retrieval.types import Filters

TimeOfDay = Literal["morning", "afternoon", "evening"]


def fold(text: str) -> str:
    """Return `text` lower-cased, without accents and with single spaces (for matching words)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.replace("’", "'")
    return re.sub(r"\s+", " ", plain).strip()


# --- language of the question --------------------------------------------------------------------
# Two languages only, and questions are short: a vote of function words beats general detectors,
# which are unreliable under ten words ("corsi gratis?" is often "not Italian" for them).
_IT_WORDS = frozenset(
    """il lo la i gli le un una uno di del della dei delle degli da dal dalla in nel nella nei
    con per su sul sulla tra fra che chi cosa come dove quando quanto quanti quale quali
    perche non e ed o ma anche sono sei siamo ci c'e ce posso puo possono devo deve vorrei
    voglio mio mia miei mie tuo tua suo sua mi ti si ho ha hanno abbiamo essere fare corso
    corsi scuola figlio figlia bambini ragazzi anziani gratis gratuito gratuiti serale sera
    domani oggi settimana fine aiuto cerco trovare iscrivere iscrizione lavoro citta quartiere
    biblioteca italiano inglese qualcuno qualcosa nessuno piu meno molto poco dopo prima
    sempre mai gia ancora tutto tutti questo questa quel quella ciao buongiorno grazie
    salve stasera stamattina dopodomani gennaio febbraio marzo aprile maggio giugno luglio
    agosto settembre ottobre novembre dicembre lunedi martedi mercoledi giovedi venerdi sabato
    domenica prossimo prossima""".split()  # noqa: SIM905
)
_EN_WORDS = frozenset(
    """the a an of for to from in on at by with about into what who whom which where when why how
    is are was were be been am do does did can could should would will shall may might must i
    me my mine you your he his she her it its we our they their there this that these those
    and or but not no any some course courses class classes school son daughter kids children
    free evening tonight tomorrow today week weekend help find learn learning enrol enroll
    enrolment job work city library near anyone anything someone something hi hello thanks
    please have has had get need want january february april june july august september
    october november december monday tuesday wednesday thursday friday saturday sunday next
    happening""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[a-z']+")


def detect_language(text: str, default: str = "it") -> str:
    """Return "it" or "en" for a short question; `default` when the words do not tell."""
    words = [word.strip("'") for word in _WORD.findall(fold(text))]
    words += [part for word in words if "'" in word for part in word.split("'")]
    italian = sum(1 for word in words if word in _IT_WORDS)
    english = sum(1 for word in words if word in _EN_WORDS)
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


# --- vocabularies ---------------------------------------------------------------------------------
# Patterns are matched on folded text at word starts; a trailing "*" allows any word ending.
AUDIENCE_WORDS: dict[str, tuple[str, ...]] = {
    "seniors": (
        "anzian*",
        "over 60",
        "over 65",
        "over 70",
        "over sessanta",
        "terza eta",
        "pensionat*",
        "nonn*",
        "elderly",
        "senior*",
        "older people",
        "older adults",
        "retired",
        "retiree*",
        "pensioner*",
        "grandparent*",
        "grandmother*",
        "grandfather*",
        "grandma",
        "grandpa",
        "old people",
        "aged 60",
        "60+",
        "65+",
    ),
    "children": (
        "bambin*",
        "bimb*",
        "children",
        "child",
        "kids",
        "kid",
        "scuola primaria",
        "elementari",
        "primary school",
        "piccoli",
        "little ones",
        "toddler*",
    ),
    "teens": (
        "ragazz*",
        "adolescent*",
        "teen*",
        "giovani",
        "youth",
        "young people",
        "scuola media",
        "scuole medie",
        "superiori",
        "high school",
        "secondary school",
        "liceo",
        "studenti delle",
    ),
    "young-adults": ("giovani adulti", "young adults", "neet", "under 30", "under 29", "ventenn*"),
    "migrants": (
        "stranier*",
        "migrant*",
        "immigrat*",
        "rifugiat*",
        "refugee*",
        "foreigner*",
        "newcomer*",
        "asylum",
        "richiedent* asilo",
        "non italian*",
        "extracomunitar*",
    ),
    "job-seekers": (
        "disoccupat*",
        "senza lavoro",
        "cerco lavoro",
        "cercare lavoro",
        "cerca lavoro",
        "in cerca di lavoro",
        "perso il lavoro",
        "job seeker*",
        "jobseeker*",
        "job-seeker*",
        "unemployed",
        "looking for work",
        "looking for a job",
        "out of work",
        "lost my job",
        "find a job",
        "trovare lavoro",
    ),
    "people-with-disabilities": (
        "disabil*",
        "handicap*",
        "sordi",
        "sordo",
        "ciechi",
        "cieco",
        "non vedent*",
        "ipovedent*",
        "sedia a rotelle",
        "carrozzina",
        "autism*",
        "autistic",
        "deaf",
        "blind",
        "wheelchair*",
        "disabled",
        "special needs",
        "bisogni speciali",
    ),
    "families": ("famiglie", "famiglia", "families", "family"),
    "parents": ("genitori", "parents", "mamme e papa", "mums and dads"),
    "women": ("donne", "women", "mamme", "mothers"),
    "students": ("studenti", "students", "universitari"),
    "adults": ("adulti", "adults", "grown-ups"),
    "teachers": ("insegnanti", "docenti", "teachers"),
}

# A resident asking "for my mother" is likely asking for an older adult: a hint for ranking,
# never a reason to hide a course that is not labelled for seniors.
IMPLIED_AUDIENCE_WORDS: dict[str, tuple[str, ...]] = {
    "seniors": (
        "mia madre", "mio padre", "mia mamma", "mio papa", "my mother", "my father", "my mum",
        "my mom", "my dad",
    ),
}  # fmt: skip
# "I'm 70", "ho 72 anni", "he is 80 years old": the age of whom the course is for.
_AGE = re.compile(
    r"(?<![\w])(?:(?:i'?m|i am|he'?s|she'?s|he is|she is|aged?) (\d{2,3})(?![\w])"
    r"|(\d{2,3}) ?(?:anni|years?|yrs|y/?o)(?![\w]))"
)
SENIOR_AGE = 60

TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "italian-language": ("italiano", "lingua italiana", "italian", "l2", "ita l2"),
    "foreign-languages": (
        "inglese",
        "english",
        "francese",
        "french",
        "spagnolo",
        "spanish",
        "tedesco",
        "german",
        "lingue straniere",
        "lingua straniera",
        "foreign language*",
        "arabo",
        "arabic",
    ),
    "digital-skills": (
        "computer*",
        "informatic*",
        "digital*",
        "smartphone*",
        "internet",
        "spid",
        "pc",
        "tablet*",
        "email",
        "e-mail",
        "online",
        "cellulare",
        "telefonino",
        "whatsapp",
    ),
    "literacy": ("alfabetizzazione", "leggere e scrivere", "literacy", "read and write"),
    "school-support": (
        "doposcuola",
        "compiti",
        "ripetizion*",
        "homework",
        "tutoring",
        "tutor",
        "after-school",
        "after school",
        "sostegno scolastico",
        "aiuto scolastico",
        "recupero",
    ),
    "adult-education": (
        "cpia",
        "licenza media",
        "diploma serale",
        "diploma la sera",
        "diploma di sera",
        "scuola serale",
        "evening diploma*",
        "adult education",
        "istruzione degli adulti",
        "terza media",
    ),
    "university": ("universit*", "laurea", "degree"),
    "work-skills": (
        "lavoro",
        "job*",
        "cv",
        "curriculum",
        "colloqui*",
        "work",
        "tirocin*",
        "internship*",
        "formazione professionale",
        "vocational",
        "career*",
    ),
    "entrepreneurship": (
        "impresa",
        "startup",
        "start-up",
        "business",
        "imprenditor*",
        "entrepreneur*",
    ),
    "arts-culture": (
        "arte",
        "arti",
        "teatro",
        "museo",
        "musei",
        "art",
        "arts",
        "theatre",
        "theater",
        "museum*",
        "pittura",
        "painting",
        "cinema",
        "fotografia",
        "photography",
        "cultura",
        "culture",
    ),
    "music": ("musica", "music*", "coro", "choir", "chitarra", "guitar", "canto", "singing"),
    "reading": (
        "lettura",
        "leggere",
        "libri",
        "libro",
        "reading",
        "books",
        "book club",
        "biblioteca",
        "library",
    ),
    "science-technology": (
        "scienz*",
        "science*",
        "coding",
        "programmazione",
        "programming",
        "robotic*",
        "stem",
        "tecnologia",
        "technology",
    ),
    "making": (
        "maker*",
        "fablab",
        "fab lab",
        "stampa 3d",
        "3d print*",
        "falegnameria",
        "woodwork*",
    ),
    "environment": (
        "ambiente",
        "ambientale",
        "environment*",
        "riciclo",
        "recycling",
        "clima",
        "climate",
        "sostenibil*",
        "sustainab*",
    ),
    "gardening": ("orto", "orti", "giardin*", "garden*"),
    "health-wellbeing": (
        "salute",
        "benessere",
        "health*",
        "wellbeing",
        "well-being",
        "yoga",
        "mindfulness",
    ),
    "sport": ("sport*", "calcio", "nuoto", "football", "swimming", "ginnastica", "gym", "palestra"),
    "citizenship": ("cittadinanza", "citizenship", "permesso di soggiorno", "residence permit"),
    "volunteering": ("volontar*", "volunteer*"),
    "parenting": ("genitorialita", "parenting", "essere genitori"),
    "early-childhood": ("asilo", "nido", "infanzia", "nursery", "kindergarten", "preschool", "0-6"),
    "history-heritage": ("storia", "history", "heritage", "patrimonio", "archeolog*"),
    "cooking": ("cucina", "cucinare", "cooking", "cook"),
    "finance": ("finanz*", "financ*", "soldi", "money", "budget", "risparmi*", "savings"),
    "soft-skills": (
        "soft skill*",
        "competenze trasversali",
        "public speaking",
        "parlare in pubblico",
    ),
}

FREE_WORDS = (
    "gratis",
    "gratuit*",
    "free",
    "free of charge",
    "senza costi",
    "senza pagare",
    "non si paga",
    "no cost",
    "without paying",
    "costo zero",
    "for nothing",
    "zero euro",
)
NOT_FREE = ("free time", "tempo libero", "freelance*", "free-time", "feel free", "free to")

INSTRUCTION_LANGUAGES: dict[str, tuple[str, ...]] = {
    "en": ("english", "inglese", "lingua inglese"),
    "it": ("italian", "italiano", "lingua italiana"),
    "fr": ("french", "francese"),
    "es": ("spanish", "spagnolo"),
    "ar": ("arabic", "arabo"),
    "de": ("german", "tedesco"),
    "uk": ("ukrainian", "ucraino"),
    "ro": ("romanian", "rumeno"),
    "zh": ("chinese", "cinese"),
}
_INSTRUCTION_LEAD = (
    r"(?:(?:taught|held|given|spoken|run|offered) in|in lingua|in|parlat[oi] in|tenut[oi] in)"
)

TIME_OF_DAY_WORDS: dict[TimeOfDay, tuple[str, ...]] = {
    "evening": (
        "sera",
        "serale",
        "serali",
        "stasera",
        "di sera",
        "dopo il lavoro",
        "dopocena",
        "evening*",
        "tonight",
        "after work",
        "at night",
        "nights",
    ),
    "morning": ("mattin*", "morning*", "in the morning"),
    "afternoon": ("pomerigg*", "afternoon*", "after lunch", "dopo pranzo"),
}

WEEKDAY_WORDS: dict[int, tuple[str, ...]] = {
    0: ("lunedi", "monday*"),
    1: ("martedi", "tuesday*"),
    2: ("mercoledi", "wednesday*"),
    3: ("giovedi", "thursday*"),
    4: ("venerdi", "friday*"),
    5: ("sabato", "sabati", "saturday*"),
    6: ("domenica", "domeniche", "sunday*"),
}

EVENT_WORDS = (
    "event*",
    "evento",
    "eventi",
    "appuntament*",
    "incontr*",
    "what's on",
    "whats on",
    "cosa c'e",
    # "c'è" typed without the apostrophe or accent: "cosa c e", "cosa ce", "che c'e"
    "cosa c e",
    "cosa ce",
    "che c'e",
    "che c e",
    "che ce",
    "c'e qualcosa",
    "c e qualcosa",
    "ce qualcosa",
    "cosa si fa",
    "che si fa",
    "cosa succede",
    "in programma",
    "iniziativ*",
    "what is on",
    "what s on",
    "anything on",
    "what's happening",
    "whats happening",
    "what is happening",
    "happening",
    "going on",
    "what to do",
    "cosa fare",
    "things to do",
)
# Kinds of event: they ask for events, and they also say which ones ("concerti a dicembre" is not
# every event in December).
EVENT_KIND_WORDS = (
    "festival*",
    "mostra",
    "mostre",
    "exhibition*",
    "laboratori*",
    "workshop*",
    "spettacol*",
    "show*",
    "concert*",
)
# "Biblioteca aperta la domenica?": a weekday after these asks about opening hours, not for the
# events on that day.
OPENING_WORDS = (
    "apert*",
    "apre",
    "aprono",
    "chius*",
    "chiude",
    "orari*",
    "open",
    "opens",
    "closed",
    "opening hours",
    "opening times",
)
PROGRAMME_WORDS = (
    "cors*",
    "course*",
    "class",
    "classes",
    "lezion*",
    "lesson*",
    "programm*",
    "attivita",
    "activit*",
    "laboratori*",
    "workshop*",
    "doposcuola",
    "club",
    "gruppo",
    "gruppi",
    "iscriv* al corso",
    "sign up",
    "impar*",
    "learn",
    "learning to",
    "studiare",
    # Names of programmes themselves: a school, a diploma course, a place that runs sessions.
    "scuola serale",
    "diploma serale",
    "diploma la sera",
    "diploma di sera",
    "evening school",
    "night school",
    "evening diploma*",
    "maker space",
    "makerspace",
    "fablab",
    "fab lab",
)

# Needs residents name in their own words, with the words the city's files use for them in both
# languages: added to the search text, so a question in one language reaches a document in the
# other by its own vocabulary ("my son stopped going to school" -> "dispersione scolastica").
CONCEPTS: dict[str, tuple[tuple[str, ...], str]] = {
    "early-school-leaving": (
        (
            "stopped going to school",
            "stop going to school",
            "stops going to school",
            "not going to school",
            "doesn't go to school",
            "doesnt go to school",
            "won't go to school",
            "wont go to school",
            "refuses to go to school",
            "doesn't want to go to school",
            "does not want to go to school",
            "drop out*",
            "dropping out",
            "dropped out",
            "dropout*",
            "left school",
            "quit school",
            "quitting school",
            "leave school",
            "leaving school",
            "skipping school",
            "skips school",
            "truan*",
            "too many absences",
            "non va piu a scuola",
            "non va a scuola",
            "non vuole piu andare a scuola",
            "non vuole andare a scuola",
            "non vuole piu andare",
            "smesso di andare a scuola",
            "lasciato la scuola",
            "lascia la scuola",
            "lasciare la scuola",
            "abbandon* la scuola",
            "abbandon* scolastic*",
            "dispersione",
            "marin* la scuola",
            "salta la scuola",
            "troppe assenze",
        ),
        "dispersione scolastica abbandono scolastico early school leaving",
    ),
    "learning-difficulties": (
        (
            "dislessi*",
            "dyslexi*",
            "discalculi*",
            "dyscalculi*",
            "disgrafi*",
            "dsa",
            "adhd",
            "disturbi dell'apprendimento",
            "disturbo dell'apprendimento",
            "learning disabilit*",
            "learning difficult*",
            "learning disorder*",
            "insegnante di sostegno",
            "support teacher",
            "pdp",
            "pei",
            "bes",
            "special educational needs",
            "bisogni educativi speciali",
        ),
        "bisogni educativi speciali DSA special educational needs",
    ),
    "bullying": (
        ("bull*", "cyberbull*", "bullismo", "bullizzat*", "prese in giro", "picked on"),
        "bullismo bullying",
    ),
    "evening-diploma": (
        (
            "night school",
            "evening school",
            "evening classes for adults",
            "finish school as an adult",
            "middle school diploma",
            "lower secondary diploma",
            "terza media",
            "licenza media",
            "diploma serale",
            "scuola serale",
        ),
        "CPIA diploma serale licenza media adult education",
    ),
    "prior-learning": (
        (
            "recognition of prior learning",
            "recognise what i already know",
            "recognize what i already know",
            "validate my skills",
            "skills validation",
            "validation of skills",
            "certify my skills",
            "riconoscimento delle competenze",
            "riconoscere le competenze",
            "certificare le competenze",
            "certificazione delle competenze",
            "skills recogni*",
            "recogni* my skills",
            "recogni* my experience",
            "riconosc* le mie competenze",
            "competenze riconosciut*",
            "validazione",
        ),
        "validazione delle competenze validation of skills",
    ),
}

# The resident asks whom to turn to: the answer should name a service or a number.
CONTACT_WORDS = (
    "who can help",
    "who can i",
    "who could help",
    "who should i",
    "who do i",
    "who to call",
    "who to contact",
    "who to ask",
    "whom",
    "contact*",
    "phone number",
    "call",
    "a chi",
    "chi mi puo",
    "chi puo",
    "chi posso",
    "chi devo",
    "chi chiamare",
    "chi contattare",
    "rivolg*",
    "telefon*",
    "numero",
    "contatt*",
)

# The resident asks when (a date, a deadline, opening hours): the answer should say it.
WHEN_WORDS = (
    "quando",
    "entro quando",
    "fino a quando",
    "a che ora",
    "che ora",
    "che giorno",
    "che giorni",
    "orari",
    "orario",
    "scadenz*",
    "when",
    "what time",
    "what day",
    "which day*",
    "deadline*",
    "opening hours",
    "open on",
    "aperto",
    "aperta",
)

# Words that say nothing about what is wanted beyond "when": a question made only of these, a
# time window and filters ("cosa c'è questo weekend per i bambini?") asks for the events then.
_WINDOW_FILLER = frozenset(
    """il lo la i gli le un una uno di del della dei delle degli da dal dalla in nel nella nei
    con per su sul sulla tra fra che chi cosa cos come dove quando quale quali ce ci si ne al
    alla ai alle allo questo questa questi queste quel quella quello qualcosa qualche niente
    nulla ma ed anche fare fa puo posso possiamo andare vedere interessante interessanti bello
    bella belle belli mi ti vi noi succede programma iniziativa iniziative tutto tutti eventi
    evento appuntamenti appuntamento c'e settimana fine weekend prossimo prossima prossimi
    prossime mese giorno giorni oggi domani dopodomani stasera stamattina stanotte ora adesso
    citta catania ciao salve buongiorno grazie favore the an of for to from in on at by with
    about what whats is are was there this that these those any anything something some things
    thing do does go going happening up event events fun nice interesting me us we can where
    which when around city town week month day days today tomorrow tonight next coming please
    hi hello thanks our my your happen happens planned scheduled""".split()  # noqa: SIM905
)

_MONTHS = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
]
_RELATIVE_DAYS = (
    "oggi",
    "domani",
    "dopodomani",
    "today",
    "tomorrow",
    "tonight",
    "stasera",
    "day after tomorrow",
)
# dateparser only runs when one of these is present: it is slow on long text and finds dates in
# words such as "may I ..." or "now".
_DATE_TRIGGER = re.compile(
    r"\b(?:" + "|".join(_MONTHS) + "|" + "|".join(_RELATIVE_DAYS) + r")\b|\d{1,2}[/.-]\d{1,2}"
)
DATE_SEARCH_CHARS = 160
_ENGLISH_AMBIGUOUS_MONTHS = re.compile(r"^(?:may|march)$")


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    parts = []
    for pattern in patterns:
        if pattern.endswith("*"):
            parts.append(re.escape(fold(pattern[:-1])) + r"[\w'-]*")
        else:
            parts.append(re.escape(fold(pattern)))
    return re.compile(
        r"(?<![\w])(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?![\w])"
    )


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


class QueryParser:
    """Read filters from the words of a question, knowing the city's districts and time zone."""

    def __init__(self, *, districts: Iterable[str] = (), zone: ZoneInfo) -> None:
        self._zone = zone
        self._districts: dict[str, str] = {}
        for name in districts:
            if name and name.strip():
                self._districts.setdefault(fold(name), name)
        self._audiences = {key: _compile(words) for key, words in AUDIENCE_WORDS.items()}
        self._implied = {key: _compile(words) for key, words in IMPLIED_AUDIENCE_WORDS.items()}
        self._topics = {key: _compile(words) for key, words in TOPIC_WORDS.items()}
        self._free = _compile(FREE_WORDS)
        self._not_free = _compile(NOT_FREE)
        self._times = {key: _compile(words) for key, words in TIME_OF_DAY_WORDS.items()}
        self._weekdays = {key: _compile(words) for key, words in WEEKDAY_WORDS.items()}
        self._events = _compile(EVENT_WORDS + EVENT_KIND_WORDS)
        self._generic_events = _compile(EVENT_WORDS)
        self._opening = _compile(OPENING_WORDS)
        self._concepts = {key: _compile(words) for key, (words, _) in CONCEPTS.items()}
        self._months = _compile(_MONTHS)
        self._contact = _compile(CONTACT_WORDS)
        self._when = _compile(WHEN_WORDS)
        self._programmes = _compile(PROGRAMME_WORDS)
        self._instruction = {
            code: re.compile(
                r"(?<![\w])"
                + _INSTRUCTION_LEAD
                + r" (?:"
                + "|".join(map(re.escape, words))
                + r")(?![\w])"
            )
            for code, words in INSTRUCTION_LANGUAGES.items()
        }
        self._speaks = re.compile(
            r"(?<![\w])(?:speaks?|spoke|speaking|parl[aoi]|parliamo|parlano|conosce|knows?)"
            r"(?: (?:only|just|solo|soltanto|solamente|only a little|un po(?:'|di)?))?"
            r" (?:l')?(?:"
            + "|".join(
                sorted(
                    {re.escape(w) for ws in INSTRUCTION_LANGUAGES.values() for w in ws}, key=len
                )[::-1]
            )
            + r")(?![\w])"
        )
        self._instruction_extra = {
            "en": re.compile(
                r"(?<![\w])(?:english[- ]speaking|in english|parla(?:no)? inglese)(?![\w])"
            ),
        }

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
        for code, pattern in self._instruction.items():
            if pattern.search(text):
                languages.append(code)
        for code, pattern in self._instruction_extra.items():
            if pattern.search(text) and code not in languages:
                languages.append(code)
        # "in inglese" is the language of the lessons, not a wish to learn English.
        topic_text = text
        for pattern in [*self._instruction.values(), *self._instruction_extra.values()]:
            topic_text = pattern.sub(" ", topic_text)

        # "She only speaks Arabic": the language of the person, not one to learn; someone who
        # does not speak Italian is likely new to the country.
        speaks = self._speaks.search(topic_text)
        topic_text = self._speaks.sub(" ", topic_text)
        audiences = tuple(key for key, pattern in self._audiences.items() if pattern.search(text))
        implied = tuple(
            key
            for key, pattern in self._implied.items()
            if pattern.search(text) and key not in audiences
        )
        if speaks and "italian" not in speaks.group() and "migrants" not in audiences:
            implied += ("migrants",)
        ages = [int(a or b) for a, b in _AGE.findall(text)]
        if any(age >= SENIOR_AGE for age in ages) and "seniors" not in audiences + implied:
            implied += ("seniors",)
        audiences += implied
        topics = tuple(key for key, pattern in self._topics.items() if pattern.search(topic_text))
        free_text = self._not_free.sub(" ", text)
        free_only = bool(self._free.search(free_text))
        time_of_day: TimeOfDay | None = None
        for key, pattern in self._times.items():
            if pattern.search(text):
                time_of_day = key
                break
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
        expansion = " ".join(
            words for key, (_, words) in CONCEPTS.items() if self._concepts[key].search(text)
        )
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
            expansion=expansion,
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
            for word in re.findall(r"[a-z0-9']+", text)
            if len(word.strip("'")) > 1
            and word.strip("'") not in _WINDOW_FILLER
            and not word.isdigit()
        ]

    def find_districts(self, question: str) -> tuple[str, ...]:
        """Return the districts named in `question`, tolerating case, accents and small typos."""
        if not self._districts:
            return ()
        words = re.findall(r"[\w']+", fold(question))
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

        if re.search(
            r"(?<!\w)(?:next weekend|prossimo (?:fine settimana|weekend)"
            r"|(?:fine settimana|weekend) prossimo)(?!\w)",
            text,
        ):
            saturday = (5 - now.weekday()) % 7 or 7
            if now.weekday() == 6:
                saturday = 6
            start = day(saturday + (7 if now.weekday() < 5 else 0))
            return start, start + dt.timedelta(days=2), (5, 6)
        if re.search(
            r"(?<!\w)(?:weekend|week-end|fine settimana|fine-settimana|sabato e domenica)(?!\w)",
            text,
        ):
            if now.weekday() >= 5:
                start = now
                end = day(7 - now.weekday())
            else:
                start = day(5 - now.weekday())
                end = start + dt.timedelta(days=2)
            return start, end, (5, 6)
        if re.search(
            r"(?<!\w)(?:next week|prossima settimana|settimana prossima"
            r"|la settimana che viene)(?!\w)",
            text,
        ):
            start = day(7 - now.weekday())
            return start, start + dt.timedelta(days=7), ()
        if re.search(r"(?<!\w)(?:this week|questa settimana|in settimana)(?!\w)", text):
            return now, day(7 - now.weekday()), ()
        if re.search(r"(?<!\w)(?:next month|prossimo mese|mese prossimo)(?!\w)", text):
            first = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            return (
                _month(first.year, first.month, self._zone)[0],
                _month(first.year, first.month, self._zone)[1],
                (),
            )
        if re.search(r"(?<!\w)(?:this month|questo mese|entro il mese)(?!\w)", text):
            return now, _month(now.year, now.month, self._zone)[1], ()
        if re.search(r"(?<!\w)(?:day after tomorrow|dopodomani)(?!\w)", text):
            return day(2), day(3), ()
        if re.search(r"(?<!\w)(?:today|oggi|tonight|stasera)(?!\w)", text):
            return now, day(1), ()
        if not _DATE_TRIGGER.search(text):
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
        languages = [lang] + [other for other in ("it", "en") if other != lang]
        found = search_dates(text, languages=languages, settings=settings) or []
        for matched, when in found:
            words = matched.strip().split()
            core = [
                word
                for word in words
                if word not in ("a", "in", "on", "di", "il", "nel", "del", "at", "of")
            ]
            if not core:
                continue
            if (
                len(core) == 1
                and _ENGLISH_AMBIGUOUS_MONTHS.match(core[0])
                and words[0] not in ("in", "on")
            ):
                continue  # "may I ...", "march" as a verb
            if core[0] in ("now", "ora", "adesso", "second", "secondo", "sec"):
                continue
            local = (
                when.replace(tzinfo=self._zone)
                if when.tzinfo is None
                else when.astimezone(self._zone)
            )
            has_day = (
                any(char.isdigit() for char in matched)
                or any(word in _RELATIVE_DAYS for word in core)
                or matched.strip() in _RELATIVE_DAYS
            )
            if not has_day and any(word in _MONTHS for word in core):
                start, end = _month(local.year, local.month, self._zone)
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
