"""Reading one knowledge file safely: links kept inside the folder, sizes bounded, text decoded.

Every refusal is an `InvalidFile` with a message staff can act on; a file that vanished raises
`FileNotFoundError` (the loader treats it as removed).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from learncity.content.errors import InvalidFile, KnowledgeError

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Larger files are refused before reading: a guide this big is a mistake (a video, a scan)."""


def _link_target(root: Path, path: str) -> Path:
    """Return the file to read for `path`: itself, or the target of a link inside the folder."""
    full = root / path
    if not full.is_symlink():
        return full
    try:
        shown = os.readlink(full)
    except OSError:
        shown = "?"
    try:
        target = full.resolve(strict=True)
    except FileNotFoundError:
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    f"this is a link to '{shown}', which does not exist: remove the link or put "
                    "the file itself here",
                )
            ]
        ) from None
    except (RuntimeError, OSError) as error:  # Python 3.11 raises RuntimeError on a loop
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    "this is a link that leads back to itself (a loop of links): put the file "
                    "itself here",
                )
            ]
        ) from error
    if not target.is_relative_to(root.resolve()):
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    f"this is a link to '{shown}', outside the knowledge folder: it is not read; "
                    "copy the file into the folder instead",
                )
            ]
        )
    return target


def read_file(root: Path, path: str, max_bytes: int) -> bytes:
    """Return the file's bytes; refuse it before reading if it is too large."""
    full = _link_target(root, path)
    status = full.stat()
    if not stat.S_ISREG(status.st_mode):  # a pipe or device would block or never end
        raise InvalidFile([KnowledgeError(path, None, "this is not a regular file")])
    size = status.st_size
    if size > max_bytes:
        raise InvalidFile([_too_large(path, size, max_bytes)])
    try:
        with full.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError as error:
        raise InvalidFile(
            [KnowledgeError(path, None, f"the file cannot be read: {error.strerror or error}")]
        ) from error
    if len(data) > max_bytes:  # it grew while being read
        raise InvalidFile([_too_large(path, len(data), max_bytes)])
    return data


def _too_large(path: str, size: int, max_bytes: int) -> KnowledgeError:
    return KnowledgeError(
        path,
        None,
        f"the file is too large ({size / 1_048_576:.1f} MB; the limit is "
        f"{max_bytes / 1_048_576:g} MB): split it into smaller files or remove images",
    )


def refuse_binary(path: str, data: bytes) -> None:
    """Raise InvalidFile if the start of a text file holds binary data (a NUL byte)."""
    if b"\x00" in data[:8192]:
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    f"the file holds binary data, not text: a '{Path(path).suffix}' file must be "
                    "plain text (was a different kind of file renamed?)",
                )
            ]
        )


def decode_text(path: str, data: bytes) -> str:
    """Return UTF-8 text; raise InvalidFile for binary data or another encoding."""
    refuse_binary(path, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    line,
                    "the text is not saved as UTF-8 (a character here is not valid UTF-8): "
                    "open the file and save it again choosing the UTF-8 encoding",
                )
            ]
        ) from None


def file_sha256(data: bytes) -> str:
    """Return the hex SHA-256 of a file's bytes (the index re-embeds a file when it changes)."""
    return hashlib.sha256(data).hexdigest()
