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

# "Missing" is about a person, not a name gone from a list: "mia figlia è sparita dalla lista degli
# iscritti", "my son is missing from the class register" are enrolment questions.
_NOT_A_LIST = (
    r"(?!.{0,40}\b(?:list[aei]?s?|elenc\w*|registr\w*|register|roster|iscri\w*|enrol\w*"
    r"|class(?:e|es)?|cors[oi]|course|lezion[ei]|lessons?|grupp[oi]|group|chat|app|sito|website"
    r"|foto|photos?|pictures?|schedul\w*|calendar\w*)\b)"
)

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
        r"|marito|moglie|ragazz[oa]) (?:è |e' )?(?:scompars[oa]|sparit[oa])" + _NOT_A_LIST,
        r"non (?:è|e') (?:più )?tornat[oa] a casa",
        r"(?:son|daughter|child|kid|boy|girl|brother|sister|mother|father|mum|mom|dad|wife"
        r"|husband|friend) (?:has |is )?(?:gone )?missing(?! out)" + _NOT_A_LIST,
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

# A question about an offer: courses, workshops, talks, clubs, books, prevention, volunteering, in
# every language the bot serves (a topic word is as often the subject of a talk as a cry for help).
# `_ACTIVITY` names the offer itself; `_AUDIENCE` who or what it is for. Singular "school" is left
# out on purpose: "bullied at school" is distress, "for schools" an offer.
_ACTIVITY_WORDS = (
    r"cors[oi]|laborator\w*|workshop\w*|seminar\w*|conferenz\w*|convegn\w*|webinar\w*"
    r"|event[oi]|mostr[ae]|giornat[ae]|campagn[ae]|sportell[oi]"  # it
    r"|events?|courses?|talks?|lectures?|program(?:me)?s?|clubs?|meetups?|webinars?|seminars?"
    r"|conferences?|exhibitions?|screenings?|sign up"  # en
    r"|oficinas?|palestras?|cursos?|semin[aá]rios?|clubes?|eventos?|campanhas?"  # pt
    r"|talleres|taller|charlas?|jornadas?|conferencias?|campañas?"  # es
    r"|ateliers?|conf[eé]rences?|s[eé]minaires?|stages?|campagnes?|soir[eé]es? d'information"
    r"|[eé]v[eé]nements?"  # fr
    r"|vortr(?:a|ä)ge?|kurs\w*|fortbildung\w*|schulung\w*|verein\w*|elternabend\w*"
    r"|veranstaltung\w*|projekt\w*"  # de
    r"|cursus\w*|lezing\w*|vereniging\w*|ouderavond\w*|voorlichting\w*|evenement\w*"  # nl
    r"|warsztat\w*|szkoleni\w*|wykład\w*|seminari\w*|sekcj\w*|wydarzeni\w*"  # pl
    r"|atölye\w*|seminer\w*|konferans\w*|söyleşi\w*|kulüp\w*|kulüb\w*|etkinli\w*"  # tr
    r"|курс\w*|лекци\w*|лекці\w*|семинар\w*|семінар\w*|тренинг\w*|тренінг\w*"
    r"|мастер-класс\w*|майстер-клас\w*|кружок\w*|кружк\w*|гурт\w*|секци\w*|секці\w*"
    r"|вебинар\w*|мероприяти\w*|заход\w*"  # ru, uk
    r"|curs\w*|ateli\w*|conferinț\w*|evenimen\w*"  # ro
)
_AUDIENCE_WORDS = (
    r"incontr[oi]|lezion[ei]|formazion\w*|progett[oi]|libr[oi]|prevenzion\w*"
    r"|sensibilizzazion\w*|educazion\w*|volontar\w*|iscri\w*|docenti|insegnanti|scuole"
    r"|genitori|assembl\w*|contro il \w+"  # it
    r"|class(?:es)?|training|sessions?|books?|awareness|prevent\w*|volunteer\w*|enrol\w*"
    r"|film|documentar\w*|teachers?|for schools|schools|parents|anti[- ]?\w+|against \w+"  # en
    r"|aulas?|forma[cç][aã]o|escolas|pais|professor(?:es|as)|alunos|projetos?|preven[cç][aã]o"
    r"|conscientiza[cç][aã]o"  # pt
    r"|clases?|formaci[oó]n|escuelas|colegios|padres|profesores|docentes|prevenci[oó]n"
    r"|programas?|contra el \w+"  # es
    r"|cours|formations?|[eé]coles|enseignants|professeurs|pr[eé]vention|sensibilisation"
    r"|contre le \w+|lutte contre"  # fr
    r"|eltern|lehrer\w*|lehrkr(?:a|ä)ft\w*|schulen|pr(?:a|ä)vention"  # de
    r"|trainingen|ouders|leerkrachten|docenten|preventie|scholen"  # nl
    r"|zajęci\w*|klub\w*|rodzic\w*|nauczyciel\w*|profilaktyk\w*|kampani\w*|szkołach|szkół"
    r"|spotkani\w*"  # pl
    r"|eğitim\w*|veli\w*|öğretmen\w*|okullar\w*|önleme\w*|farkındalık\w*|programı?"  # tr
    r"|клуб\w*|родител\w*|батьк\w*|учител\w*|вчител\w*|педагог\w*|профилактик\w*"
    r"|профілактик\w*|школах"  # ru, uk
    r"|club\w*|părinți|profesori|prevenir\w*|campani\w*|școli"  # ro
)
_ACTIVITY = re.compile(rf"\b(?:{_ACTIVITY_WORDS})\b", re.IGNORECASE)
_AUDIENCE = re.compile(rf"\b(?:{_AUDIENCE_WORDS})\b", re.IGNORECASE)
# Chinese and Arabic offer words: not delimited by spaces (zh), or with prefixes (ar "للأهل").
_ACTIVITY_UNSPACED = re.compile(
    r"讲座|课程|工作坊|培训|研讨会|讲习|俱乐部|活动|夏令营"
    r"|ورش|محاضر|دورة|دورات|نادي|ندوة|فعالي|مخيم"
)
_AUDIENCE_UNSPACED = re.compile(
    r"家长|预防|宣传|防治|反欺凌|反家暴|反霸凌|برنامج|توعية|وقاية|الأهل|للأهل|الأهالي|المعلمين|مدارس"
    r"|مكافحة"
)


def _about_an_offer(normalised: str) -> bool:
    return any(
        pattern.search(normalised)
        for pattern in (_ACTIVITY, _AUDIENCE, _ACTIVITY_UNSPACED, _AUDIENCE_UNSPACED)
    )


def offer(text: str) -> bool:
    """Return True when `text` names an offer itself (a course, talk, workshop, club, event).

    Audience words ("parents", "teachers") are left out: they are as common in distress ("my
    parents want me to marry").
    """
    normalised = normalise(text[:MAX_CHARS])
    return bool(_ACTIVITY.search(normalised) or _ACTIVITY_UNSPACED.search(normalised))


# Words of distress itself, in every language the bot serves: a short message that carries one is
# judged like any other; a short message without one needs a closer match (see classifier.py).
_DISTRESS_WORDS = re.compile(
    r"\b(?:help|aiut\w*|ayud\w*|socorr\w*|ajud\w*|aide[zr]?|secours|hilfe|помог\w*"
    r"|допомож\w*|yardım\w*|imdat|ratunku|pomocy|pomóż\w*|ajutor\w*|sos"
    r"|scared|afraid|terrified|paura|miedo|peur|angst|medo|страшно|боюсь|боюся|korkuyorum"
    r"|boję|bang|mi-e frică|frică"
    r"|die|dying|morire|morir|mourir|sterben|morrer|умереть|помереть|померти|ölmek|umrzeć|dood"
    r"|danger|pericolo|peligro|perigo|gefahr|опасн\w*|небезпе\w*|tehlike\w*|niebezpiecz\w*"
    r"|gevaar|pericol)\b"
    r"|救命|帮帮我|求救|害怕|想死|危险|ساعد|النجدة|خائف|أموت|خطر",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def distress_word(text: str) -> bool:
    """Return True when `text` carries an explicit word of distress (help, scared, die...)."""
    return bool(_DISTRESS_WORDS.search(normalise(text[:MAX_CHARS])))


def word_count(text: str) -> int:
    """Return the number of words in `text`, two Chinese/Japanese/Korean characters a word."""
    normalised = normalise(text[:MAX_CHARS])
    cjk = len(_CJK.findall(normalised))
    spaced = len(_CJK.sub(" ", normalised).split())
    return spaced + (cjk + 1) // 2


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
    if not _about_an_offer(normalised):
        found += [
            c
            for c in _ORDER
            if c in _TOPIC_RE and c not in found and _TOPIC_RE[c].search(normalised)
        ]
    found.sort(key=_ORDER.index)
    return Detection(tuple(found)) if found else None
