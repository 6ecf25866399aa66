"""Mask personal data in free text before staff can see it (/gaps, /stats, exports, logs).

`mask(text)` replaces, in this order (earlier masks protect their text from later ones):

    links, e-mails            <link>, <email>
    IBANs                     <iban>
    Italian fiscal codes      <fiscal code>
    street addresses          <address>   via/viale/piazza/corso/largo/vicolo… Name 12;
                                          12 Baker Street / Road / Avenue…
    person names              <name>      after a cue ("mi chiamo", "sono", "my name is",
                                          "mio figlio"…) or a known first name (first_names.yaml)
    Telegram handles          <user>
    phone and other numbers   <number>    (three digits or more)

It is a heuristic for a city help desk's questions, not a guarantee: it errs on the side of
masking, and staff never see the unmasked text because only the masked text is stored.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

NAMES_FILE = Path(__file__).parent / "first_names.yaml"

_UPPER = "A-ZÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜ"
_LOWER = "a-zàáâäèéêëìíîïòóôöùúûüß"
# A capitalised word: "Rossi", "D'Angelo", "Dell'Acqua", "Anne-Marie".
_CAP = rf"[{_UPPER}][{_LOWER}]*(?:['’-][{_UPPER}{_LOWER}][{_LOWER}]+)?"
_NUMBER = r"\d{1,4}(?:/[a-zA-Z0-9]{1,3}|[a-zA-Z]\b)?"

_LINK = re.compile(r"https?://\S+|www\.\S+|\bt\.me/\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE
)
# 16 characters: surname, name, year, month letter, day (+40 for women), place, check letter;
# digits may be replaced by letters (omocodia).
_DIGITISH = "[0-9LMNPQRSTUV]"
_FISCAL_CODE = re.compile(
    rf"\b(?=\w*\d)[A-Z]{{6}}{_DIGITISH}{{2}}[ABCDEHLMPRST]{_DIGITISH}{{2}}"
    rf"[A-Z]{_DIGITISH}{{3}}[A-Z]\b",
    re.IGNORECASE,
)
# A street's name word: at least two letters ("Roma", "Dell'Acqua"), so "corso B1" is no street.
_NAME_WORD = rf"[{_UPPER}][{_LOWER}]+(?:['’-][{_UPPER}{_LOWER}][{_LOWER}]+)?"
_STREET_IT = (
    r"via|viale|v\.le|piazza|p\.zza|piazzale|c\.so|largo|vicolo|vico|contrada|lungomare"
    r"|lungotevere"
)
# Words that also mean something else ("corso di inglese", "strada facendo"): an address only
# after a cue such as "abito in", "indirizzo".
_STREET_IT_AMBIGUOUS = r"corso|strada|borgo|salita|calle|campo"
_ADDRESS_CUES = (
    r"abito|abitiamo|vivo|viviamo|risiedo|residente|residenza|indirizzo|domicilio|domiciliato"
    r"|domiciliata|sto|stiamo|live|lives|address"
)
_LINK_WORD = r"(?:di|del|della|dello|dei|degli|delle|de|d'|da|dal|san|santa|santo|s\.)"
# "Roma 12", "G. Garibaldi, 5/b", "Vittorio Emanuele II n. 33", "XX Settembre 20", "4 Novembre 3".
_STREET_REST = (
    rf"(?:(?i:{_LINK_WORD})\s*|[A-Z]\.\s*|[IVX]+\s+|\d{{1,2}}\s+(?={_NAME_WORD}))*{_NAME_WORD}"
    rf"(?:\s+(?:(?i:{_LINK_WORD})\s*|[A-Z]\.\s*)*{_NAME_WORD}){{0,4}}"
    rf"(?:\s+[IVX]+)?(?:\s*,\s*|\s+)(?:(?i:n\.?|n°|nr\.?|numero|civico)\s*)?{_NUMBER}\b"
)
_ADDRESS_IT = re.compile(rf"\b(?i:{_STREET_IT})\s+{_STREET_REST}")
_ADDRESS_IT_CUED = re.compile(
    rf"(?P<cue>\b(?i:{_ADDRESS_CUES})\b(?:\W+\w+){{0,2}}?\W+)"
    rf"(?i:{_STREET_IT_AMBIGUOUS})\s+{_STREET_REST}"
)
_STREET_EN = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Place|Pl|Square|Sq|Boulevard"
    r"|Blvd|Crescent|Terrace|Court|Gardens|Grove|Row|Hill"
)
_ADDRESS_EN = re.compile(
    rf"\b(?:(?i:flat|apartment|apt\.?)\s*\d+[a-zA-Z]?\s*,?\s*)?{_NUMBER}\s*,?\s+"
    rf"(?:{_CAP}\s+){{1,3}}(?:{_STREET_EN})\b\.?"
)
# Cues after which one or two capitalised words are a person's name.
_NAME_CUES = (
    r"mi chiamo|il mio nome è|il mio nome e'|sono|io sono|mio figlio|mia figlia|mio marito"
    r"|mia moglie|mio padre|mia madre|mio fratello|mia sorella|il mio compagno|la mia compagna"
    r"|mio nipote|mia nipote|per conto di|da parte di|signor|signora|sig\.|sig\.ra|dott\.|dott\.ssa"
    r"|my name is|my name's|i am|i'm|this is|my son|my daughter|my husband|my wife|my partner"
    r"|my mother|my father|my brother|my sister|on behalf of|mr\.?|mrs\.?|ms\.?|miss|dr\.?"
    r"|called|named|chiamato|chiamata"
)
# Capitalised words that follow the cues without being names ("Sono Italiana", "I am Ukrainian").
_NOT_NAME_WORDS = """
    italiano italiana italiani italiane straniero straniera residente disoccupato disoccupata
    english inglese italian ukrainian ucraino ucraina romanian rumeno rumena albanian albanese
    moroccan marocchino marocchina chinese cinese arabic arabo araba french francese spanish
    spagnolo german tedesco new nuovo nuova interested interessato interessata looking
    lunedì martedì mercoledì giovedì venerdì sabato domenica monday tuesday wednesday thursday
    friday saturday sunday gennaio febbraio marzo aprile maggio giugno luglio agosto settembre
    ottobre novembre dicembre january february march april june july august september october
    november december i io a the un una il la lo
"""
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())
_CUED_NAME = re.compile(rf"(?P<cue>\b(?i:{_NAME_CUES}))(?P<gap>\s+)(?P<name>{_CAP}(?:\s+{_CAP})?)")
_HANDLE = re.compile(r"(?<![\w.])@\w{3,}")
_PHONE = re.compile(r"(?<![\w<])(?:\+|00)?\d[\d\s./-]{5,}\d(?![\w>])")
_DIGITS = re.compile(r"\b\d{3,}\b")


@cache
def first_names() -> frozenset[str]:
    """Return the common first names (lower case) from `first_names.yaml`."""
    data = yaml.safe_load(NAMES_FILE.read_text(encoding="utf-8")) or {}
    names: set[str] = set()
    for group in data.values():
        names.update(str(name).lower() for name in group or [])
    return frozenset(names)


def _mask_cued(match: re.Match[str]) -> str:
    words = match.group("name").split()
    if words[0].lower() in _NOT_NAMES:
        return match.group(0)
    kept = [] if len(words) == 1 or words[1].lower() not in _NOT_NAMES else [words[1]]
    return match.group("cue") + match.group("gap") + " ".join(["<name>", *kept])


# A known first name, and the capitalised word after it (the surname); not a saint's place name
# ("San Giovanni", "Santa Maria Novella").
_FULL_NAME = re.compile(
    rf"(?<![\w<])(?<!San )(?<!Santa )(?<!Santo )(?<!S\. )"
    rf"(?P<first>{_CAP})(?P<rest>(?:\s+{_CAP}){{0,2}})"
)


def _mask_known(match: re.Match[str]) -> str:
    first = match.group("first")
    if first.lower() not in first_names():
        return match.group(0)
    rest = match.group("rest")
    words = rest.split()
    if words and words[0].lower() not in _NOT_NAMES:  # "Giulia Rossi": the surname goes too
        return " ".join(["<name>", *words[1:]])
    return "<name>" + rest


def mask(text: str) -> str:
    """Return `text` with personal data replaced by placeholders such as <name> and <address>."""
    text = _LINK.sub("<link>", text)
    text = _EMAIL.sub("<email>", text)
    text = _IBAN.sub("<iban>", text)
    text = _FISCAL_CODE.sub("<fiscal code>", text)
    text = _ADDRESS_IT.sub("<address>", text)
    text = _ADDRESS_IT_CUED.sub(r"\g<cue><address>", text)
    text = _ADDRESS_EN.sub("<address>", text)
    text = _CUED_NAME.sub(_mask_cued, text)
    text = _FULL_NAME.sub(_mask_known, text)
    text = _HANDLE.sub("<user>", text)
    text = _PHONE.sub("<number>", text)
    return _DIGITS.sub("<number>", text)


def mask_for_staff(text: str, *, limit: int = 300) -> str:
    """Mask personal data, collapse whitespace and cut to `limit` characters (stored, shown)."""
    return " ".join(mask(text).split())[:limit]
