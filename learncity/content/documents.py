"""Turn a loaded knowledge file into retrieval chunks: one per programme, event or contact, and
guide sections (long ones split by langchain's RecursiveCharacterTextSplitter).

A record's fields are rendered as readable sentences in each language the record is written in, so
a question in either language finds it; filter fields stay as flat metadata (Chroma keeps only
str/int/float/bool, lists joined with "|"). Chunk ids hash path, position and text: re-indexing an
unchanged file yields the same ids.

This module makes the chunks (ids, guide sections); records are rendered as text by
`learncity.content.record_text`, with the words of `learncity.content.index_words`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from langchain_text_splitters import RecursiveCharacterTextSplitter

from learncity.content.chunks import Chunk, MetadataValue
from learncity.content.guides import Guide, title_from_filename
from learncity.content.knowledge_base import LoadedFile
from learncity.content.reading import file_sha256 as _bytes_sha256
from learncity.content.record_text import contact_part, event_part, per_language, programme_part

__all__ = ["GUIDE_CHUNK_CHARS", "GUIDE_CHUNK_OVERLAP", "chunk_id", "chunks_for_file", "file_sha256"]

GUIDE_CHUNK_CHARS = 900
GUIDE_CHUNK_OVERLAP = 120


def file_sha256(source: bytes | Path) -> str:
    """Return the hex SHA-256 of a file's bytes, or of the file at a path."""
    return _bytes_sha256(source.read_bytes() if isinstance(source, Path) else source)


def chunk_id(path: str, position: int, text: str) -> str:
    """Return the deterministic id of the chunk at `position` in the file at `path`."""
    return hashlib.sha256(f"{path}\x00{position}\x00{text}".encode()).hexdigest()


# Bump when the way files become chunks changes, so existing indexes re-embed every file once.
RENDERING_VERSION = "3"


def index_hash(file_sha256: str) -> str:
    """Return the hash the index keeps for a file: its content hash and the rendering version."""
    return f"{file_sha256}:r{RENDERING_VERSION}"


def chunks_for_file(
    loaded: LoadedFile,
    *,
    chunk_size: int = GUIDE_CHUNK_CHARS,
    chunk_overlap: int = GUIDE_CHUNK_OVERLAP,
) -> list[Chunk]:
    """Return the chunks of one file: one per programme, event or contact; guides by section."""
    if chunk_size < 1:
        raise ValueError(f"chunk size ({chunk_size}) must be at least 1")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(
            f"chunk overlap ({chunk_overlap}) must be at least 0 and less than "
            f"chunk size ({chunk_size})"
        )
    parts: list[tuple[str, dict[str, MetadataValue]]] = []
    for programme in loaded.programmes:
        parts.extend(per_language(*programme_part(programme)))
    for event in loaded.events:
        parts.extend(per_language(*event_part(event)))
    for contact in loaded.contacts:
        parts.extend(per_language(*contact_part(contact)))
    if loaded.guide is not None:
        parts.extend(_guide_parts(loaded.guide, chunk_size, chunk_overlap))
    chunks = []
    for position, (text, metadata) in enumerate(parts):
        metadata = {
            "path": loaded.path,
            "file_hash": loaded.sha256,
            "position": position,
            **metadata,
        }
        chunks.append(Chunk(id=chunk_id(loaded.path, position, text), text=text, metadata=metadata))
    return chunks



# ---------------------------------------------------------------- guides


LEAD_CHARS = 160


def _guide_header(guide: Guide) -> str:
    """Return the line every chunk of a guide starts with: what the whole document is about.

    A guide with a real title (front matter, a heading, a PDF's or page's title) has it. A plain
    file named only by its file name ("2086_dettagli_it.txt") is introduced by its first lines
    instead, which name what it is about: a section deep inside then still says which course,
    service or place it belongs to.
    """
    if guide.title != title_from_filename(guide.path):
        return guide.title
    lead: list[str] = []
    for raw in guide.text.splitlines():
        line = raw.strip()
        if not line or not any(char.isalnum() for char in line):
            continue
        if lead and sum(len(part) for part in lead) + len(line) > LEAD_CHARS:
            break
        lead.append(line[:LEAD_CHARS])
    return " · ".join([guide.title, *lead])


def _guide_parts(
    guide: Guide, chunk_size: int, chunk_overlap: int
) -> list[tuple[str, dict[str, MetadataValue]]]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, keep_separator=True
    )
    base: dict[str, MetadataValue] = {
        "kind": "guide",
        "title": guide.title,
        "lang": guide.lang,
        "audiences": "|".join(str(a) for a in guide.meta.audience),
        "topics": "|".join(str(t) for t in guide.meta.topics),
    }
    if guide.meta.source_url:
        base["url"] = guide.meta.source_url
    if guide.meta.last_updated:
        base["last_updated"] = guide.meta.last_updated.isoformat()
    parts = []
    header = _guide_header(guide)
    for heading, body in guide.sections:
        prefix = header if not heading or heading == guide.title else f"{header}\n{heading}"
        for piece in splitter.split_text(body):
            parts.append((f"{prefix}\n\n{piece.strip()}", {**base, "section": heading}))
    return parts
