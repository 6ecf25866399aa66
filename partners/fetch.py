"""Read a source: a local file or an http(s) URL, with a size limit and a total time limit.

URLs are fetched with aiohttp; `etag` / `last_modified` make the request conditional, and a
304 answer comes back as `Fetched.not_modified`. Every failure is a FetchError naming the source.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

from partners.errors import FetchError

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class Fetched:
    """A source's bytes (None when the server says it has not changed) and its validators."""

    data: bytes | None
    name: str  # the file name the source suggests (for the document name)
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """Return True when a conditional request found no change."""
        return self.data is None


def is_url(source: str) -> bool:
    """Return True for an http(s) address."""
    return re.match(r"^https?://", source, re.IGNORECASE) is not None


def name_of(source: str) -> str:
    """Return the file name a file path or URL suggests (its last part, else the host)."""
    if is_url(source):
        parts = urlsplit(source)
        last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        return last or parts.hostname or "feed"
    return Path(source).name


def _too_large(source: str, size: int, limit: int) -> FetchError:
    return FetchError(
        source,
        f"the source is too large ({size / 1_048_576:.1f} MB; the limit is "
        f"{limit / 1_048_576:g} MB): split it, or ask the partner for a smaller feed",
    )


def read_file(source: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Fetched:
    """Return a local file's bytes; refuse it before reading when too large."""
    path = Path(source)
    if re.match(r"^[a-z][a-z0-9+.-]*://", source, re.IGNORECASE):
        raise FetchError(source, "only files and http(s) addresses can be imported")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FetchError(source, "this is not a regular file")
        if size > max_bytes:
            raise _too_large(source, size, max_bytes)
        data = path.read_bytes()
    except FileNotFoundError:
        raise FetchError(source, "no such file") from None
    except OSError as error:
        raise FetchError(source, f"the file cannot be read: {error.strerror or error}") from None
    return Fetched(data=data, name=path.name)


async def fetch_url(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """Return a URL's bytes within `timeout` seconds in all (connect, wait and read)."""
    headers = {"User-Agent": "learncity-partners/1.0"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers=headers, allow_redirects=True, max_redirects=5) as response,
        ):
            validators = {
                "etag": response.headers.get("ETag") or etag,
                "last_modified": response.headers.get("Last-Modified") or last_modified,
            }
            if response.status == 304:
                return Fetched(data=None, name=name_of(url), **validators)
            if response.status >= 400:
                raise FetchError(
                    url,
                    f"the server answered HTTP {response.status} {response.reason or ''}".rstrip(),
                )
            if response.content_length is not None and response.content_length > max_bytes:
                raise _too_large(url, response.content_length, max_bytes)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > max_bytes:  # no or a wrong Content-Length: stop reading at the limit
                    raise FetchError(
                        url,
                        f"the source is too large (more than {max_bytes / 1_048_576:g} MB, "
                        "the limit): split it, or ask the partner for a smaller feed",
                    )
                chunks.append(chunk)
            return Fetched(data=b"".join(chunks), name=name_of(url), **validators)
    except TimeoutError:
        raise FetchError(url, f"no complete answer within {timeout:g} seconds (time-out)") from None
    except aiohttp.ClientError as error:
        raise FetchError(url, f"cannot be fetched: {error or type(error).__name__}") from None


async def fetch(
    source: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """Return a file's or URL's bytes (see `read_file` and `fetch_url`)."""
    if is_url(source):
        return await fetch_url(
            source, max_bytes=max_bytes, timeout=timeout, etag=etag, last_modified=last_modified
        )
    return await asyncio.to_thread(read_file, source, max_bytes=max_bytes)
