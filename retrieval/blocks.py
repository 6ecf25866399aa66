"""Text of guide sections as a person reads it: paragraphs and list items, plain words.

Used by the passage composer (`retrieval.passage`): Markdown emphasis and link syntax removed,
hard-wrapped lines joined back, headings found inside extracted PDF text kept apart.
"""

from __future__ import annotations

import re

HEADING_MAX_CHARS = 60
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_PAGE_MARK = re.compile(r"^(?:p\.|pag\.|page)\s*\d+$", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w))")


def plain(text: str) -> str:
    """Return Markdown text as plain words: no emphasis marks, links as their text."""
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.split())


def _looks_like_heading(line: str) -> bool:
    """Return True for a short line that starts with a capital and ends without punctuation."""
    return (
        len(line) <= HEADING_MAX_CHARS
        and line[0].isupper()
        and not line.endswith((".", "!", "?", ":", ";", ","))
        and not _BULLET.match(line)
    )


def blocks(text: str) -> list[str]:
    """Return paragraphs and list items, with hard-wrapped lines joined back."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(" ".join(current))
            current.clear()

    previous = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        after_sentence = not current or previous.endswith((".", "!", "?", ":", ";"))
        previous = line
        if not line:
            flush()
        elif _PAGE_MARK.match(line):
            continue
        elif after_sentence and _looks_like_heading(line):
            # A heading inside extracted text (PDF, plain text): not part of any sentence.
            flush()
        elif line.startswith("#") or _BULLET.match(line) or line.startswith("|"):
            flush()
            current.append(_BULLET.sub("", line.lstrip("#").strip()))
        else:
            current.append(line)
    flush()
    return blocks
