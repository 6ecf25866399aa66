"""Guides: Markdown, plain text, PDF and HTML documents read as a title, a language and sections.

The loader decodes and validates (front matter included); this module only reads structure.
Problems a member of staff can fix raise `InvalidFile` with the path and, where known, the line.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from babel import localedata
from bs4 import BeautifulSoup, NavigableString, Tag
from frontmatter.default_handlers import YAMLHandler
from pypdf import PdfReader

from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.models import LANGUAGE_CODE, GuideMeta, Lang

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
PDF_SUFFIXES = frozenset({".pdf"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
GUIDE_SUFFIXES = TEXT_SUFFIXES | PDF_SUFFIXES | HTML_SUFFIXES

HEADING_JOINER = " › "
TABLE_CELL_JOINER = " — "
_MAX_TITLE_CHARS = 120


@dataclass
class Guide:
    """A guidance document: title, language, sections `(heading, body)`; `text` is the body."""

    path: str
    title: str
    meta: GuideMeta
    lang: str
    text: str
    sections: list[tuple[str, str]] = field(default_factory=list)


# Frequent short words: enough to tell Italian from English in a guide or a question.
# fmt: off
_ITALIAN_WORDS = frozenset([
    "il", "lo", "la", "i", "gli", "le", "di", "da", "che", "è", "e", "per", "con", "non", "una",
    "un", "uno", "del", "della", "dei", "delle", "degli", "sono", "come", "alla", "alle", "al",
    "ai", "nel", "nella", "nei", "anche", "più", "si", "ci", "può", "puoi", "tuo", "tua",
    "questo", "questa", "ogni", "essere", "sul", "sulla", "dal", "dalla", "fino", "dopo", "prima",
    "quando", "dove", "chi", "cosa", "se", "ma", "oppure",
])
_ENGLISH_WORDS = frozenset([
    "the", "and", "of", "to", "is", "are", "for", "with", "on", "you", "your", "this", "that",
    "be", "an", "or", "can", "from", "by", "at", "will", "what", "when", "where", "who", "how",
    "if", "but", "not", "do", "does", "have", "has", "it", "its", "their", "they", "we", "our",
    "about",
])
# fmt: on
_WORD = re.compile(r"[a-zà-ÿ']+")


def detect_language(text: str, default: Lang = "it") -> Lang:
    """Return "it" or "en", whichever has more common short words in `text` (`default` if tied)."""
    italian = english = 0
    for word in _WORD.findall(text.lower()):
        italian += word in _ITALIAN_WORDS
        english += word in _ENGLISH_WORDS
    if italian == english:
        return default
    return "it" if italian > english else "en"


def language_from_filename(path: str) -> str | None:
    """Return the language a file name declares: "iscrizioni.fr.md" -> "fr", else None."""
    suffixes = PurePosixPath(path).suffixes
    code = suffixes[-2][1:].lower() if len(suffixes) >= 2 else ""
    # Only a language CLDR knows: "notes.old.md" is not in a language called "old".
    return code if LANGUAGE_CODE.match(code) and localedata.exists(code) else None


def title_from_filename(path: str) -> str:
    """Return a readable title from a file name: "school-enrolment.md" -> "School enrolment"."""
    stem = PurePosixPath(path).stem
    if language_from_filename(path):
        stem = PurePosixPath(stem).stem  # "iscrizioni.fr.md" -> "iscrizioni"
    stem = stem.replace("_", " ").replace("-", " ").strip()
    stem = re.sub(r"\s+", " ", stem)
    return stem[:1].upper() + stem[1:] if stem else path


def split_front_matter(path: str, text: str) -> tuple[str | None, str]:
    """Return (front matter YAML or None, body); the YAML keeps its line numbers in the file."""
    handler = YAMLHandler()
    if not handler.detect(text):
        return None, text
    try:
        front, body = handler.split(text)
    except ValueError:  # an opening '---' with no closing one
        if path.endswith(".txt"):
            return None, text  # a plain-text file may open with a dashed rule
        message = "the front matter opened by '---' on line 1 has no closing '---' line"
        raise InvalidFile([KnowledgeError(path, 1, message)]) from None
    return front, body


def _clean(text: str) -> str:
    lines = [re.sub(r"[ \t\f\v\r\u00a0]+", " ", line).strip() for line in text.splitlines()]
    lines = [line.removesuffix(" |") for line in lines]  # the end of an HTML table row
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _finish(
    path: str,
    meta: GuideMeta,
    first_heading: str | None,
    sections: list[tuple[str, str]],
    text: str,
    declared_lang: str | None = None,
) -> Guide:
    sections = [(heading.strip(), _clean(body)) for heading, body in sections]
    sections = [(heading, body) for heading, body in sections if body]
    text = _clean(text)
    if not sections or not text:
        raise InvalidFile([KnowledgeError(path, None, "the guide has no text to read")])
    title = meta.title or first_heading or title_from_filename(path)
    lang = meta.language or declared_lang or language_from_filename(path) or detect_language(text)
    return Guide(path=path, title=title, meta=meta, lang=lang, text=text, sections=sections)


# ---------------------------------------------------------------- Markdown

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _markdown_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """Return (line index, level, text) of each heading, skipping fenced code blocks."""
    found: list[tuple[int, int, str]] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        opened = _FENCE.match(line)
        if opened:
            marker = opened.group(1)[0]
            fence = None if fence == marker else (fence or marker)
            continue
        if fence:
            continue
        atx = _ATX.match(line)
        if atx:
            found.append((index, len(atx.group(1)), atx.group(2).strip()))
            continue
        # "Title" underlined by === or ---; a single paragraph line only, not a rule after a blank.
        if (
            _SETEXT.match(line)
            and index > 0
            and lines[index - 1].strip()
            and (index == 1 or not lines[index - 2].strip())
            and not _ATX.match(lines[index - 1])
        ):
            level = 1 if line.strip().startswith("=") else 2
            found.append((index - 1, level, lines[index - 1].strip()))
    return found


def markdown_sections(text: str) -> tuple[str | None, list[tuple[str, str]]]:
    """Return (first heading, sections); a single leading H1 is the title, not a section."""
    lines = text.splitlines()
    headings = _markdown_headings(lines)
    first = headings[0][2] if headings else None
    top_level = [h for h in headings if h[1] == 1]
    title_line = headings[0][0] if len(top_level) == 1 and headings[0][1] == 1 else None
    # A setext heading occupies two lines (text and underline).
    skip = {i for i, level, _ in headings} | {
        i + 1 for i, _, _ in headings if i + 1 < len(lines) and _SETEXT.match(lines[i + 1])
    }
    sections: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    heading_at = {i: (level, text) for i, level, text in headings}
    current = ""
    for index, line in enumerate(lines):
        if index in heading_at:
            sections.append((current, "\n".join(body)))
            body = []
            level, heading = heading_at[index]
            if index == title_line:
                stack, current = [], ""
                continue
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            current = HEADING_JOINER.join(text for _, text in stack)
            continue
        if index in skip:
            continue
        body.append(line)
    sections.append((current, "\n".join(body)))
    return first, sections


# ---------------------------------------------------------------- plain text

_RULE = re.compile(r"^\s*([-=_*])\1{2,}\s*$")


def _looks_like_heading(line: str) -> bool:
    line = line.strip()
    return (
        0 < len(line) <= 80
        and not line.endswith((".", ",", ";", "!", "?"))
        and not line.startswith("-")
    )


def text_sections(text: str) -> tuple[str | None, list[tuple[str, str]]]:
    """Return (first heading, sections): a heading is a short line alone or underlined by ---.

    A line of three or more dashes on its own also starts a new section.
    """
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line.strip())
        elif blocks[-1]:
            blocks.append([])
    blocks = [block for block in blocks if block]
    sections: list[tuple[str, str]] = []
    heading, body, first = "", [], None
    for position, block in enumerate(blocks):
        new_heading: str | None = None
        underlined = len(block) >= 2 and _RULE.match(block[1]) and _looks_like_heading(block[0])
        alone = len(block) == 1 and _looks_like_heading(block[0]) and position + 1 < len(blocks)
        if len(block) == 1 and _RULE.match(block[0]):
            new_heading = ""
        elif underlined or alone:
            new_heading = block[0]
        elif _RULE.match(block[-1]):
            block = block[:-1]  # a paragraph closed by a rule: the rule only separates
            body.append("\n".join(block))
            sections.append((heading, "\n\n".join(body)))
            heading, body = "", []
            continue
        if new_heading is None:
            body.append("\n".join(block))
            continue
        sections.append((heading, "\n\n".join(body)))
        heading, body = new_heading, []
        if underlined and len(block) > 2:
            body.append("\n".join(block[2:]))  # the text right under the underline
        if first is None and new_heading:
            first = new_heading
    sections.append((heading, "\n\n".join(body)))
    return first, sections


def guide_from_text(path: str, body: str, meta: GuideMeta, *, markdown: bool) -> Guide:
    """Return the guide in a Markdown or plain-text body (front matter already removed)."""
    first, sections = markdown_sections(body) if markdown else text_sections(body)
    return _finish(path, meta, first, sections, body)


# ---------------------------------------------------------------- PDF


def guide_from_pdf(path: str, data: bytes) -> Guide:
    """Return the guide in a PDF: one section per page ("p. 3"), title from the PDF's properties."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            message = "the PDF is password-protected: save a copy without a password"
            raise InvalidFile([KnowledgeError(path, None, message)])
        pages = [page.extract_text() or "" for page in reader.pages]
        info_title = (reader.metadata.title if reader.metadata else None) or ""
    except InvalidFile:
        raise
    except Exception as error:  # noqa: BLE001 - pypdf raises many kinds of errors on damaged files
        detail = str(error).strip()[:120] or type(error).__name__
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    "the PDF cannot be read: it is damaged or not really a PDF; export it again "
                    f"from the original document (detail: {detail})",
                )
            ]
        ) from error
    # Words broken across lines by a hyphen are joined again ("infor-\nmazioni").
    pages = [re.sub(r"(\w)-\n(\w)", r"\1\2", page) for page in pages]
    if not any(page.strip() for page in pages):
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    "the PDF has no text that can be read (is it a scanned image?): "
                    "add a version with real text",
                )
            ]
        )
    first_line = next((line.strip() for line in pages[0].splitlines() if line.strip()), "")
    first = info_title.strip() or (first_line if len(first_line) <= _MAX_TITLE_CHARS else None)
    sections = pdf_sections(pages)
    return _finish(path, GuideMeta(), first, sections, "\n\n".join(pages))


_PDF_HEADING_CHARS = 70
_PDF_SHORT_LINE = 0.75  # of the longest line: wrapped text fills the line, a heading does not
_LIST_START = re.compile(r"^(?:[-*•–]|\d+[.)])\s")


def _pdf_heading(previous: str, line: str, following: str, width: int) -> bool:
    """Return True for a PDF line that reads as a heading: short, alone, after a full stop."""
    return (
        3 <= len(line) <= min(_PDF_HEADING_CHARS, _PDF_SHORT_LINE * width)
        and line[0].isupper()
        and not line.endswith((".", ",", ";", ":", "!", "?"))
        and not _LIST_START.match(line)
        and "://" not in line
        and (
            not previous
            or previous.endswith((".", ";", ":", "!", "?"))
            or (" " not in previous and ("://" in previous or "@" in previous))  # a bare link
        )
        and bool(following)
        and (following[0].isupper() or following[0].isdigit() or bool(_LIST_START.match(following)))
    )


def pdf_sections(pages: list[str]) -> list[tuple[str, str]]:
    """Return the sections of a PDF's page texts: at its headings, else one per page ("p. 3").

    PDF text has no markup: a heading is a short line starting with a capital, after a line
    that ends a sentence and before one that starts another; the first line is the title.
    """
    lines = [
        (number, line.strip())
        for number, page in enumerate(pages, start=1)
        for line in page.splitlines()
        if line.strip()
    ]
    width = max((len(line) for _, line in lines), default=0)
    headings = {
        index
        for index in range(1, len(lines))
        if _pdf_heading(
            lines[index - 1][1],
            lines[index][1],
            lines[index + 1][1] if index + 1 < len(lines) else "",
            width,
        )
    }
    if not headings:
        return [(f"p. {number}", page) for number, page in enumerate(pages, start=1)]
    sections: list[tuple[str, str]] = []
    heading, body = "", [lines[0][1]]
    for index in range(1, len(lines)):
        if index in headings:
            sections.append((heading, "\n".join(body)))
            heading, body = lines[index][1], []
        else:
            body.append(lines[index][1])
    sections.append((heading, "\n".join(body)))
    return [(name, text) for name, text in sections if text.strip()]


# ---------------------------------------------------------------- HTML

_BLOCKS = (
    "p",
    "div",
    "li",
    "tr",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "aside",
    "table",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "h4",
    "h5",
    "h6",
    "address",
    "figure",
)
_MARK = "\u241eHEADING\u241e"


def guide_from_html(path: str, data: bytes) -> Guide:
    """Return the guide in an HTML page: sections at h1-h3, title from the first h1 or <title>."""
    soup = BeautifulSoup(data, "html.parser")
    html = soup.find("html")
    declared = html.get("lang") if isinstance(html, Tag) else None
    declared_lang = str(declared).split("-")[0].lower() if declared else None
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "svg", "head", "nav"]):
        tag.decompose()
    headings = soup.find_all(["h1", "h2", "h3"])
    h1s = [h for h in headings if h.name == "h1"]
    first = headings[0].get_text(" ", strip=True) if headings else None
    title_heading = headings[0] if len(h1s) == 1 and headings and headings[0].name == "h1" else None
    # Line breaks in HTML source mean nothing; only elements break lines (pre keeps its own).
    for string in soup.find_all(string=True):
        # Exactly NavigableString: comments and the doctype are subclasses and are not text.
        if type(string) is NavigableString and not string.find_parent("pre"):
            string.replace_with(re.sub(r"\s+", " ", str(string)))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    # A table row becomes one line, "cell — cell", so a row reads as one statement and rows
    # never run into each other; data rows are list items named by the header's cells
    # ("ISEE: fino a 5.000 euro — Costo a pasto: gratis"), so a row answers on its own.
    for table in reversed(soup.find_all("table")):  # innermost first: nested tables stay readable
        names: list[str] = []
        for row in table.find_all("tr"):
            cells = [cell.get_text(" ", strip=True) for cell in row.find_all(["td", "th"])]
            header = not row.find("td")
            row.clear()
            if header:
                names = cells
                row.append(TABLE_CELL_JOINER.join(cell for cell in cells if cell))
                continue
            if len(names) == len(cells):
                cells = [
                    f"{name}: {cell}" if name else cell
                    for name, cell in zip(names, cells, strict=True)
                ]
            line = TABLE_CELL_JOINER.join(cell for cell in cells if cell)
            if line:
                row.append(f"- {line}")
    for tag in soup.find_all(_BLOCKS):
        if tag.name in ("li", "tr"):
            tag.insert_before("\n- " if tag.name == "li" else "\n")
        else:
            tag.insert_before("\n")
            tag.insert_after("\n")
    levels: dict[str, int] = {"h1": 1, "h2": 2, "h3": 3}
    for heading in headings:
        text = heading.get_text(" ", strip=True)
        marker = "" if heading is title_heading else f"{levels[heading.name]}{text}"
        heading.replace_with(f"\n{_MARK}{marker}\n")
    parts = soup.get_text().split(_MARK)
    sections: list[tuple[str, str]] = [("", parts[0])]
    stack: list[tuple[int, str]] = []
    for part in parts[1:]:
        marker, _, body = part.partition("\n")
        if marker:
            level, heading_text = int(marker[0]), marker[1:]
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading_text))
            current = HEADING_JOINER.join(text for _, text in stack)
        else:
            stack, current = [], ""
        sections.append((current, body))
    text = "\n\n".join(body for _, body in sections)
    lang = declared_lang if declared_lang in ("it", "en") else None
    return _finish(path, GuideMeta(), first or page_title or None, sections, text, lang)
