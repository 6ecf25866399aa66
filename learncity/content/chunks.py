"""The unit of retrieval the content model produces: a `Chunk` of text with flat metadata.

It lives on the ground floor because `learncity.content.documents` cuts the knowledge files
into chunks; `retrieval` indexes and searches them (and re-exports them from `retrieval.types`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChunkKind = Literal["programme", "event", "guide", "contact", "document"]
MetadataValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Chunk:
    """A unit of retrieval: text to embed plus flat metadata (Chroma keeps str/int/float/bool only).

    `id` is deterministic (a content hash of path, position and text), so re-indexing is idempotent.
    Required metadata keys: `path` (relative to the knowledge dir), `kind` (ChunkKind), `title`,
    `lang`; optional: `record_id`, `section`, `url`, `file_hash`, and filter fields such as
    `audiences` / `topics` (joined with `|`), `free`, `district`, `learning_type`.
    """

    id: str
    text: str
    metadata: dict[str, MetadataValue]
