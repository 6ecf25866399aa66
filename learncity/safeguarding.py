"""Spot messages that signal danger or distress (Italian and English), so helplines come first.

Pure and fast: word patterns, no model, no I/O. It errs on the side of showing the helplines: a
false alarm costs one extra message, a miss can cost far more. Callers must never log the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Concern(StrEnum):
    """What kind of danger or distress a message signals."""

    SELF_HARM = "self-harm"
    CHILD_IN_DANGER = "child-in-danger"
    ABUSE = "abuse"
    VIOLENCE = "violence"
    BULLYING = "bullying"


# Concerns after which the bot shows only the helplines: answering "courses" would be tone-deaf.
URGENT = frozenset({Concern.SELF_HARM, Concern.CHILD_IN_DANGER})

_PATTERNS: dict[Concern, tuple[str, ...]] = {
    Concern.SELF_HARM: (
        # Italian
        r"suicid\w*",
        r"(?:voglio|vorrei|voglia di|penso di|pensando di|sto per) "
        r"(?:morire|farla finita|sparire per sempre)",
        r"farla finita",
        r"(?:uccider|ammazzar|ferir|tagliar|impiccar|buttar)mi",
        r"mi (?:voglio|vorrei) (?:uccidere|ammazzare|tagliare|ferire|buttare)",
        r"(?:farmi|fare a me stess[oa]) (?:del )?male",
        r"autolesion\w*",
        r"non (?:voglio|ce la faccio) più (?:a )?vivere",
        r"non ha (?:più )?senso vivere",
        r"togliermi la vita",
        # English
        r"kill(?:ing)? my ?self",
        r"hurt(?:ing)? my ?self",
        r"harm(?:ing)? my ?self",
        r"cut(?:ting)? my ?self",
        r"self[- ]?harm\w*",
        r"(?:want|wanna|going) to die",
        r"end (?:my|it) (?:life|all)",
        r"take my (?:own )?life",
        r"no reason to live",
        r"don'?t want to (?:live|be alive)",
    ),
    Concern.CHILD_IN_DANGER: (
        r"(?:bambin[oaie]|figli[oa]?|ragazz(?:o|a|ino|ina)|minore|neonat[oa]) "
        r"(?:è |e' |sono )?in pericolo",
        r"(?:bambin[oaie]|figli[oa]?|minore|neonat[oa]) (?:solo|sola|soli) in casa",
        r"(?:child|kid|baby|son|daughter|boy|girl|minor) (?:is |are )?in danger",
        r"(?:child|kid|baby|children|kids) (?:left )?(?:alone|unattended) at home",
        r"(?:child|kid|baby) (?:is )?being (?:hurt|beaten|abused|neglected)",
        r"in pericolo di vita",
        r"in (?:immediate )?danger",
        r"(?:sono|è|siamo) in pericolo",
    ),
    Concern.ABUSE: (
        r"abus\w*",
        r"maltratt\w*",
        r"molest\w*",
        r"violentat\w*",
        r"stupr\w*",
        r"\brape[ds]?\b",
        r"raping",
        r"sexual(?:ly)? assault\w*",
        r"grooming",
        r"neglect(?:ed|s)? (?:me|us|my|the (?:kids|children))",
        r"mi tocca (?:in modo|dove)",
        r"touch(?:es|ed)? me (?:inappropriately|where)",
    ),
    Concern.VIOLENCE: (
        r"(?:mi|ci|l[oai]|li) (?:picchia|picchiano|ha picchiat\w*|hanno picchiat\w*|minaccia\w*"
        r"|prende a (?:calci|pugni|schiaffi))",
        r"(?:mi|ci) (?:vuole|vogliono) (?:uccidere|ammazzare|fare del male)",
        r"violenza (?:domestica|in famiglia|di genere|sessuale)",
        r"subisco violenz\w*",
        r"(?:viene|vengono|è stat[oa]|sono stat[ie]|l'hanno|lo hanno|la hanno) "
        r"(?:picchiat\w*|aggredit\w*|minacciat\w*|pres[oaie] a (?:calci|pugni|schiaffi))",
        r"(?:is|was|are|were|gets?|got|been) (?:being )?"
        r"(?:beaten|beat up|attacked|threatened|kicked|punched)",
        r"(?:hits?|beats?|hurts?|threatens?|kicks?|punche?s?|slaps?) "
        r"(?:me|us|my (?:mum|mom|mother|kids?|children|son|daughter|wife|husband|partner))",
        r"(?:hit|beaten|hurt|threatened|attacked|kicked|punched) (?:me|us)\b",
        r"domestic (?:violence|abuse)",
        r"(?:going|wants?|threaten\w*) to (?:kill|hurt) (?:me|us|my)",
        r"(?:afraid|scared) (?:of|for) my (?:life|safety)",
        r"ho paura (?:di|per) (?:lui|lei|mio|mia|la mia vita)",
    ),
    Concern.BULLYING: (
        r"bullizz\w*",
        r"bullism\w*",
        r"cyberbull\w*",
        r"bullied",
        r"bullying",
        r"being bullied",
        r"(?:mi|lo|la|li) prendono in giro (?:tutti|sempre|ogni giorno)",
        r"(?:mi|ci) (?:escludono|isolano|deridono) (?:tutti|sempre|a scuola)",
        r"picks? on (?:me|him|her)",
    ),
}

_COMPILED: dict[Concern, re.Pattern[str]] = {
    concern: re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)
    for concern, patterns in _PATTERNS.items()
}
_ORDER = (
    Concern.SELF_HARM,
    Concern.CHILD_IN_DANGER,
    Concern.ABUSE,
    Concern.VIOLENCE,
    Concern.BULLYING,
)


@dataclass(frozen=True, slots=True)
class Detection:
    """A message that needs helplines, with every concern it signals (most urgent first)."""

    concerns: tuple[Concern, ...]

    @property
    def urgent(self) -> bool:
        """Return True when only helplines should follow (self-harm, a child in danger)."""
        return any(concern in URGENT for concern in self.concerns)


def _normalise(text: str) -> str:
    # Typographic apostrophes and runs of spaces would otherwise defeat the patterns.
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def detect(text: str) -> Detection | None:
    """Return what danger or distress `text` signals, or None when it signals none."""
    if not text:
        return None
    normalised = _normalise(text[:5000])
    found = tuple(c for c in _ORDER if _COMPILED[c].search(normalised))
    return Detection(found) if found else None
