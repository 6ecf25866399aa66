"""Right-to-left output: keep Latin names, numbers, times, phone numbers and URLs in one piece.

In an Arabic reply a course name ("Corso di italiano A2"), a time ("18:30–20:30"), a phone number
("+39 095 000 1101") or a URL would be reordered by the Unicode bidi algorithm, and a line that
starts with one would be laid out left to right. Wrapping each such run in LEFT-TO-RIGHT ISOLATE
(U+2066) … POP DIRECTIONAL ISOLATE (U+2069) keeps the run intact and lets the Arabic text decide
the direction of the line (UAX #9: isolates are skipped when finding a paragraph's direction).
"""

from __future__ import annotations

import html
import re
import unicodedata

LRI = "\u2066"
RLI = "\u2067"
FSI = "\u2068"
PDI = "\u2069"
_OPENERS = (LRI, RLI, FSI)
_RTL_CLASSES = frozenset({"R", "AL"})
_START = frozenset({"L", "EN"})  # a run starts with a Latin (or other LTR) letter or a digit
_INSIDE = frozenset({"L", "EN", "ES", "ET", "CS", "ON", "WS", "NSM", "BN"})
_TAG = re.compile(r"(<[^>]*>)")


def is_right_to_left_text(text: str) -> bool:
    """Return True when `text` has right-to-left letters (Arabic, Hebrew...)."""
    return any(unicodedata.bidirectional(char) in _RTL_CLASSES for char in text)


def _run_end(text: str, start: int) -> int:
    """Return the end of the left-to-right run at `start` (trailing spaces and marks left out)."""
    end = start
    index = start
    while index < len(text):
        char = text[index]
        kind = unicodedata.bidirectional(char)
        if char in _OPENERS or char == PDI or kind not in _INSIDE:
            break
        if kind in _START or char == "/":
            end = index + 1
        index += 1
    return end


def _starts_run(text: str, index: int) -> bool:
    kind = unicodedata.bidirectional(text[index])
    if kind in _START:
        return True
    # "+39 095…": a plus sign opens a phone number.
    return text[index] == "+" and index + 1 < len(text) and text[index + 1].isdigit()


def isolate_ltr(text: str) -> str:
    """Wrap every left-to-right run of plain `text` in LRI … PDI; existing isolates are kept."""
    out: list[str] = []
    index = 0
    depth = 0
    while index < len(text):
        char = text[index]
        if char in _OPENERS:
            depth += 1
        elif char == PDI:
            depth = max(depth - 1, 0)
        elif depth == 0 and _starts_run(text, index):
            end = _run_end(text, index)
            out.append(f"{LRI}{text[index:end]}{PDI}")
            index = end
            continue
        out.append(char)
        index += 1
    return "".join(out)


def isolate_ltr_html(markup: str) -> str:
    """Apply `isolate_ltr` to the text of Telegram HTML, leaving tags and their attributes alone."""
    parts = _TAG.split(markup)
    for index in range(0, len(parts), 2):  # even indexes are text, odd ones tags
        if parts[index]:
            parts[index] = html.escape(isolate_ltr(html.unescape(parts[index])), quote=False)
    return "".join(parts)


def for_reading(markup: str) -> str:
    """Return Telegram HTML ready to show: isolated Latin runs when the text is right-to-left."""
    return isolate_ltr_html(markup) if is_right_to_left_text(markup) else markup
