"""Explicit word patterns for the unmistakable (Italian and English): no model, no I/O.

A few Ukrainian and Romanian first-person phrases are here too: the embedding does not cover those
languages, so the similarity layer alone misses them.

Two kinds of pattern. *Strong* ones are first-hand or eye-witness wording ("mi picchia", "kill
myself", "è scomparso") and always flag. *Topic* words ("bullismo", "abuso", "violenza domestica")
flag only when the message does not read as a question about an offer: "c'è un laboratorio sul
bullismo per le scuole?" is a resident looking for a workshop, not a resident in danger. Everything
subtler (indirect wording, third parties, other languages) is the similarity layer's job.
Callers must never log the text.
"""

from __future__ import annotations

import re
import unicodedata

from learncity.safeguarding.concerns import Concern, Detection

# Longest text the patterns read: enough for any real message, bounded for a 10,000-char paste.
MAX_CHARS = 5000

_STRONG: dict[Concern, tuple[str, ...]] = {
    Concern.SELF_HARM: (
        r"(?:voglio|vorrei|voglia di|penso di|pensando di|sto per) "
        r"(?:morire|farla finita|sparire per sempre)",
        r"farla finita",
        r"(?:uccider|ammazzar|ferir|tagliar|impiccar|buttar)mi",
        r"mi (?:voglio|vorrei) (?:uccidere|ammazzare|tagliare|ferire|buttare)",
        r"(?:farmi|fare a me stess[oa]) (?:del )?male",
        r"non (?:voglio|ce la faccio) più (?:a )?vivere",
        r"non ha (?:più )?senso vivere",
        r"togliermi la vita",
        r"kill(?:ing)? my ?self",
        r"hurt(?:ing)? my ?self",
        r"harm(?:ing)? my ?self",
        r"cut(?:ting)? my ?self",
        r"(?:want|wanna|going) to die",
        r"end (?:my|it) (?:life|all)",
        r"take my (?:own )?life",
        r"no reason to live",
        r"don'?t want to (?:live|be alive)",
        # Ukrainian and Romanian (not covered by the embedding)
        r"покінчити (?:з|із) собою",
        r"накласти на себе руки",
        r"(?:вбити|убити) себе",
        r"не хочу (?:більше )?жити",
        r"хочу померти",
        r"(?:vreau|vrea|gândesc) să mă (?:sinucid|omor)",
        r"să(?: îmi|-mi) iau viața",
        r"nu mai vreau să trăiesc",
        r"vreau să mor",
    ),
    Concern.CHILD_AT_RISK: (
        r"(?:bambin[oaie]|figli[oa]?|ragazz(?:o|a|ino|ina)|minore|neonat[oa]) "
        r"(?:è |e' |sono )?in pericolo",
        r"(?:bambin[oaie]|figli[oa]?|minore|neonat[oa]) (?:solo|sola|soli) in casa",
        r"(?:child|kid|baby|son|daughter|boy|girl|minor) (?:is |are )?in danger",
        r"(?:child|kid|baby|children|kids) (?:left )?(?:alone|unattended) at home",
        r"(?:child|kid|baby) (?:is )?being (?:hurt|beaten|abused|neglected)",
        r"in pericolo di vita",
        r"(?:sono|è|siamo) in pericolo",
        r"(?:i am|i'm|we are|we're|is) in (?:immediate )?danger",
    ),
    Concern.SEXUAL_ABUSE: (
        r"(?:mi|l[oai]|ci) (?:ha|hanno) (?:abusat\w*|violentat\w*|molestat\w*|stuprat\w*)",
        r"(?:abusat|violentat|molestat|stuprat)[oaie] da",
        r"\b(?:raped|molested|abused) (?:me|her|him|my)\b",
        r"\b(?:was|were|been|got|being) (?:raped|molested|sexually abused|abused)\b",
        r"\b(?:abused|raped|molested) me\b",
        r"mi tocca (?:in modo|dove|le parti)",
        r"touch(?:es|ed)? (?:me|her|him) (?:inappropriately|where)",
    ),
    Concern.DOMESTIC_VIOLENCE: (
        r"(?:mi|ci|l[oai]|li) (?:picchia|picchiano|ha picchiat\w*|hanno picchiat\w*"
        r"|prende a (?:calci|pugni|schiaffi))",
        r"(?:mi|ci) (?:vuole|vogliono) (?:uccidere|ammazzare|fare del male)",
        r"subisco violenz\w*",
        r"(?:mi|ci) maltratta\w*",
        r"(?:è stat[oa]|sono stat[ie]) maltrattat\w*",
        r"(?:viene|vengono|è stat[oa]|sono stat[ie]|l'hanno|lo hanno|la hanno) "
        r"(?:picchiat\w*|aggredit\w*|minacciat\w*|pres[oaie] a (?:calci|pugni|schiaffi))",
        r"(?:is|was|are|were|gets?|got|been) (?:being )?"
        r"(?:beaten|beat up|attacked|threatened|kicked|punched)",
        r"(?:hits?|beats?|hurts?|threatens?|kicks?|punche?s?|slaps?|chokes?) "
        r"(?:me|us|my (?:mum|mom|mother|kids?|children|son|daughter|wife|husband|partner))\b",
        r"(?:hit|beaten|hurt|threatened|attacked|kicked|punched) (?:me|us)\b",
        r"(?:going|wants?|threaten\w*) to (?:kill|hurt) (?:me|us|my)",
        r"(?:afraid|scared) (?:of|for) my (?:life|safety)",
        r"ho paura (?:di|per) (?:lui|lei|mio|mia|la mia vita)",
        r"(?:чоловік|хлопець|партнер|батько|вітчим) (?:мене )?б['ʼ’]є(?: мене)?",
        r"(?:soțul|partenerul|iubitul|tatăl|tata)(?: meu)? mă (?:bate|lovește)",
    ),
    Concern.MISSING_PERSON: (
        r"(?:figli[oa]|bambin[oa]|fratello|sorella|madre|padre|mamma|papà|nonn[oa]|amic[oa]"
        r"|marito|moglie|ragazz[oa]) (?:è |e' )?(?:scompars[oa]|sparit[oa])",
        r"non (?:è|e') (?:più )?tornat[oa] a casa",
        r"(?:son|daughter|child|kid|boy|girl|brother|sister|mother|father|mum|mom|dad|wife"
        r"|husband|friend) (?:has |is )?(?:gone )?missing",
        r"(?:hasn'?t|has not|didn'?t|did not) (?:come|came) (?:back )?home",
    ),
    Concern.FORCED_MARRIAGE: (
        r"(?:mi|la|lo|ci) (?:vogliono|vuole) (?:far |fare )?sposare",
        r"(?:costrett[oaie]|obbligat[oaie]) a sposar\w*",
        r"matrimonio (?:forzato|combinato)",
        r"forc(?:e|ed|ing) (?:me |her |him )?(?:to|into) marr\w*",
        r"forced marriage",
    ),
    Concern.WEAPONS: (
        r"(?:minacciat[oaie]?|minaccia\w*) con (?:un |una )?(?:coltello|pistola|arma)",
        r"(?:threaten\w*|pulled) (?:me |us |him |her )?(?:with )?(?:a )?(?:knife|gun)",
        r"(?:ha|hanno|has|have|had) (?:un |una |a )?(?:coltello|pistola|knife|gun)"
        r" (?:e |and )?(?:dice|says|said|vuole|wants)",
        r"погрожува\w* (?:мені |нам |йому |їй )?(?:ножем|пістолетом|зброєю)",
        r"amenința\w* cu (?:un |o )?(?:cuțit\w*|pistol\w*|arm[aă])",
    ),
    Concern.BULLYING: (
        r"bullizz\w*",
        r"vittima di (?:bullismo|cyberbullismo)",
        r"(?:is|was|are|were|being|been|gets?|got) (?:being )?(?:cyber)?bullied",
        r"(?:mi|lo|la|li) prendono in giro (?:tutti|sempre|ogni giorno)",
        r"(?:mi|ci) (?:escludono|isolano|deridono) (?:tutti|sempre|a scuola)",
        r"picks? on (?:me|him|her)",
    ),
}

# Words that name a danger but are just as often the topic of a course, a talk or a book.
_TOPIC: dict[Concern, tuple[str, ...]] = {
    Concern.SELF_HARM: (r"suicid\w*", r"autolesion\w*", r"self[- ]?harm\w*"),
    Concern.SEXUAL_ABUSE: (
        r"abus[oi] sessual\w*",
        r"violenza sessuale",
        r"stupr\w*",
        r"\brape[ds]?\b",
        r"sexual(?:ly)? (?:assault|abuse)\w*",
        r"\babus\w*",
        r"molest\w*",
    ),
    Concern.DOMESTIC_VIOLENCE: (
        r"maltratt\w*",
        r"violenza (?:domestica|in famiglia|di genere)",
        r"domestic (?:violence|abuse)",
    ),
    Concern.GROOMING: (r"grooming", r"adescament\w*"),
    Concern.BULLYING: (r"bullism\w*", r"cyberbull\w*", r"bullying"),
}

# A question about an offer: courses, workshops, talks, books, prevention, volunteering.
_ORDINARY = re.compile(
    r"\b(?:cors[oi]|laborator\w*|workshop\w*|seminar\w*|incontr[oi]|conferenz\w*|convegn\w*"
    r"|lezion[ei]|formazion\w*|progett[oi]|webinar\w*|event[oi]|events?|mostr[ae]|libr[oi]"
    r"|giornat[ae]|campagn[ae]|prevenzion\w*|sensibilizzazion\w*|educazion\w*|sportell[oi]"
    r"|volontar\w*|iscri\w*|class(?:es)?|courses?|training|talks?|lectures?|sessions?"
    r"|program(?:me)?s?|books?|awareness|prevent\w*|volunteer\w*|enrol\w*|sign up|film"
    r"|documentar\w*|teachers?|docenti|insegnanti|per le scuole|for schools|assembl\w*"
    r"|anti[- ]?\w+|contro il \w+|against \w+|schools?|scuole|genitori|parents"
    # the same offer words elsewhere in Europe, for an English or Italian topic word
    r"|palestr\w*|atelier\w*|taller\w*|curs\w*|aulas?|charlas?|kurs\w*|formation\w*"
    r"|conférence\w*|lezing\w*|szkoleni\w*|warsztat\w*|profesori|ouders|pais|padres|eltern)\b",
    re.IGNORECASE,
)

_ORDER = tuple(Concern)


def _compile(table: dict[Concern, tuple[str, ...]]) -> dict[Concern, re.Pattern[str]]:
    return {
        concern: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
        for concern, patterns in table.items()
    }


_STRONG_RE = _compile(_STRONG)
_TOPIC_RE = _compile(_TOPIC)


def normalise(text: str) -> str:
    """Return `text` with typographic apostrophes and runs of spaces made plain."""
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def detect(text: str) -> Detection | None:
    """Return what danger or distress the explicit patterns see in `text`, or None."""
    if not text or not text.strip():
        return None
    normalised = normalise(text[:MAX_CHARS])
    found = [c for c in _ORDER if c in _STRONG_RE and _STRONG_RE[c].search(normalised)]
    if not _ORDINARY.search(normalised):
        found += [
            c
            for c in _ORDER
            if c in _TOPIC_RE and c not in found and _TOPIC_RE[c].search(normalised)
        ]
    found.sort(key=_ORDER.index)
    return Detection(tuple(found)) if found else None
