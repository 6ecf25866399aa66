"""Structure-aware splitting of a document into retrieval chunks.

A document is cut into sections first (Markdown headings; lines of three or more dashes, as in
plain-text exports), then long sections are cut further with langchain's
`RecursiveCharacterTextSplitter`. Every chunk starts with the document title and its section
heading, so a chunk read alone still says what it is about, for the embedding and for BM25.
Tiny neighbouring sections are merged, so no chunk is just a heading.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from retrieval.types import Chunk, MetadataValue

DEFAULT_MAX_CHARS = 1000
DEFAULT_OVERLAP = 100
DEFAULT_MIN_CHARS = 300

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_RULE = re.compile(r"^\s*-{3,}\s*$")
# A first line this short, with no sentence end, reads as the heading of a dash-separated section.
_MAX_HEADING_CHARS = 80


@dataclass
class _Section:
    heading: str
    body: str
    heading_in_body: bool  # True when the heading is the body's first line (dash-separated text)


def chunk_id(path: str, position: int, text: str) -> str:
    """Return the deterministic id of a chunk: a hash of its path, position and text."""
    digest = hashlib.sha256(f"{path}\x00{position}\x00{text}".encode()).hexdigest()
    return digest[:32]


def split_sections(
    text: str,
    *,
    title: str,
    metadata: Mapping[str, MetadataValue],
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
    min_chars: int = DEFAULT_MIN_CHARS,
) -> list[Chunk]:
    """Split a document by its structure into chunks that each carry the title and heading.

    `metadata` must hold `path`; it is copied into every chunk with `title`, `section` and
    `position` added. `max_chars` bounds a section body before it is split further; sections
    shorter than `min_chars` are merged with their neighbours while the result fits `max_chars`.
    """
    if max_chars <= 0:
        raise ValueError(f"chunk size ({max_chars}) must be positive")
    if overlap < 0:
        raise ValueError(f"chunk overlap ({overlap}) must not be negative")
    if overlap >= max_chars:
        raise ValueError(f"chunk overlap ({overlap}) must be less than chunk size ({max_chars})")
    if min_chars < 0 or min_chars > max_chars:
        raise ValueError(f"min_chars ({min_chars}) must be between 0 and chunk size ({max_chars})")
    path = metadata.get("path")
    if not isinstance(path, str) or not path:
        raise ValueError(f"metadata must hold a non-empty 'path', got {path!r}")
    title = " ".join(title.split())
    if not title:
        raise ValueError(f"document {path!r} needs a non-empty title")

    splitter = RecursiveCharacterTextSplitter(chunk_size=max_chars, chunk_overlap=overlap)
    chunks: list[Chunk] = []
    for section in _merge_small(_sections(text, title), max_chars, min_chars):
        parts = [section.body] if len(section.body) <= max_chars else _merge_tiny(
            splitter.split_text(section.body), min_chars
        )
        for index, part in enumerate(parts):
            # The first part already shows a dash-style heading as its first line.
            show_heading = section.heading and not (index == 0 and section.heading_in_body)
            header = f"{title}\n{section.heading}" if show_heading else title
            body = part.strip()
            if not body:
                continue
            chunk_text = f"{header}\n{body}"
            position = len(chunks)
            chunk_metadata: dict[str, MetadataValue] = dict(metadata)
            chunk_metadata.update(title=title, section=section.heading, position=position)
            chunks.append(
                Chunk(id=chunk_id(path, position, chunk_text), text=chunk_text,
                      metadata=chunk_metadata)
            )
    return chunks


def _sections(text: str, title: str) -> list[_Section]:
    """Cut text at Markdown headings and dash rules; keep the heading path of each section."""
    sections: list[_Section] = []
    heading_path: list[tuple[int, str]] = []
    lines: list[str] = []
    md_heading = ""
    md_active = False  # inside a Markdown section: never guess a heading from the first line

    def flush() -> None:
        body = "\n".join(lines).strip()
        lines.clear()
        if not body:
            return
        if md_active:
            sections.append(_Section(md_heading, body, heading_in_body=False))
            return
        first = body.split("\n", 1)[0].strip()
        if len(first) <= _MAX_HEADING_CHARS and not first.endswith((".", ":", ";")):
            sections.append(_Section(first, body, heading_in_body=True))
        else:
            sections.append(_Section("", body, heading_in_body=False))

    in_fence = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and (match := _MD_HEADING.match(line)):
            flush()
            md_active = True
            level, heading = len(match.group(1)), " ".join(match.group(2).split())
            heading_path = [(lvl, h) for lvl, h in heading_path if lvl < level]
            heading_path.append((level, heading))
            # The document title as top heading says nothing new in every chunk.
            names = [h for _, h in heading_path if h.casefold() != title.casefold()]
            md_heading = " > ".join(names)
            continue
        if not in_fence and _RULE.match(line):
            flush()
            continue
        lines.append(line)
    flush()
    return sections


def _merge_small(sections: list[_Section], max_chars: int, min_chars: int) -> list[_Section]:
    """Merge runs of short sections so that no chunk is a lone heading or a line or two."""
    merged: list[_Section] = []
    for section in sections:
        if merged:
            last = merged[-1]
            addition = section.body if section.heading_in_body or not section.heading else (
                f"{section.heading}\n{section.body}"
            )
            small = len(last.body) < min_chars or len(section.body) < min_chars
            if small and len(last.body) + len(addition) + 1 <= max_chars:
                merged[-1] = _Section(
                    last.heading, f"{last.body}\n{addition}", last.heading_in_body
                )
                continue
        merged.append(section)
    return merged


def _merge_tiny(parts: list[str], min_chars: int) -> list[str]:
    """Glue pieces shorter than `min_chars` to a neighbour (the splitter leaves a lone line)."""
    merged: list[str] = []
    carry = ""
    for part in parts:
        part = f"{carry}\n{part}" if carry else part
        carry = ""
        if len(part) < min_chars:
            carry = part
        else:
            merged.append(part)
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]}\n{carry}"
        else:
            merged.append(carry)
    return merged
