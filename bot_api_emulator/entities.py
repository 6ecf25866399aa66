"""Parse Telegram-flavoured HTML into plain text and entities, with Telegram's error messages.

The rules follow the Bot API's "HTML style" section and tdlib's parser: only a small set of tags,
four named character references plus numeric ones, offsets and lengths in UTF-16 code units.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

#: Tags Telegram accepts, mapped to the entity type they produce.
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ALLOWED_TAGS = set(_SIMPLE_TAGS) | {"a", "span", "tg-emoji"}
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_REFERENCE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(
    r"""\s*([a-zA-Z0-9_-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""",
)


class EntityParseError(ValueError):
    """Raised with the text Telegram puts after "Bad Request: can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    byte_offset: int
    utf16_offset: int
    attributes: dict[str, str] = field(default_factory=dict)


def _decode_reference(text: str, pos: int) -> tuple[str, int] | None:
    """Return the character a reference at ``pos`` stands for and its length, if it is one."""
    match = _REFERENCE.match(text, pos)
    if match is None:
        return None
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name not in _NAMED_REFERENCES:
            return None
        return _NAMED_REFERENCES[name], match.end() - pos
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end() - pos


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and the entities of a message sent with ``parse_mode=HTML``."""
    return _HtmlParser(text).parse()


class _HtmlParser:
    """One pass over a message's HTML: plain text out, an entity for each tag that closes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.out: list[str] = []
        self.out_len16 = 0
        self.entities: list[dict[str, Any]] = []
        self.stack: list[_OpenTag] = []
        # Byte offsets in error messages follow tdlib, which works on UTF-8.
        same_length = len(text.encode("utf-8")) == len(text)
        self._byte_of = None if same_length else _byte_offsets(text)

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        """Return the plain text and the entities, or raise ``EntityParseError``."""
        text, n = self.text, len(self.text)
        while self.pos < n:
            char = text[self.pos]
            if char == "&":
                self._reference()
            elif char != "<":
                self._text_run()
            elif self.pos + 1 < n and text[self.pos + 1] == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        for entity in self.entities:
            entity.pop("_language", None)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _offset(self, pos: int) -> int:
        return self._byte_of[pos] if self._byte_of is not None else pos

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.out_len16 += utf16_len(chunk) if not chunk.isascii() else len(chunk)

    def _reference(self) -> None:
        """Emit a character reference's character, or a lone ``&`` as it is."""
        decoded = _decode_reference(self.text, self.pos)
        if decoded is not None:
            self._emit(decoded[0])
            self.pos += decoded[1]
        else:
            self._emit("&")
            self.pos += 1

    def _text_run(self) -> None:
        """Emit plain text up to the next tag or reference."""
        end = self.pos
        while end < len(self.text) and self.text[end] not in "<&":
            end += 1
        self._emit(self.text[self.pos : end])
        self.pos = end

    def _tag_name(self, start: int) -> str:
        name_match = _TAG_NAME.match(self.text, start)
        assert name_match is not None
        self.pos = name_match.end()
        return name_match.group().lower()

    def _end_tag(self) -> None:
        """Close the innermost open tag, which must be the one named."""
        text, n, begin = self.text, len(self.text), self.pos
        name = self._tag_name(begin + 2)
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._offset(begin)}")
        while self.pos < n and text[self.pos] in " \t\r\n":
            self.pos += 1
        if self.pos >= n or text[self.pos] != ">":
            raise EntityParseError(
                f"Can't find end of the tag at byte offset {self._offset(begin)}"
            )
        self.pos += 1
        opened = self.stack.pop()
        if name != opened.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self._offset(begin)}, "
                f'expected "</{opened.name}>", found "</{name}>"'
            )
        _close(opened, self.out_len16, self.entities)

    def _start_tag(self) -> None:
        """Open an allowed tag with its attributes."""
        begin = self.pos
        name = self._tag_name(begin + 1)
        if name not in _ALLOWED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {self._offset(begin)}'
            )
        close = self.text.find(">", self.pos)
        if close < 0:
            raise EntityParseError(
                f"Can't find end of the tag at byte offset {self._offset(begin)}"
            )
        attributes = _parse_attributes(self.text[self.pos : close], self._offset(begin))
        self.pos = close + 1
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and "emoji-id" not in attributes:
            raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
        self.stack.append(_OpenTag(name, self._offset(begin), self.out_len16, attributes))


def _byte_offsets(text: str) -> list[int]:
    """Return the UTF-8 byte offset of every character index (plus the end)."""
    offsets = [0] * (len(text) + 1)
    total = 0
    for index, char in enumerate(text):
        offsets[index] = total
        total += len(char.encode("utf-8", "surrogatepass"))
    offsets[len(text)] = total
    return offsets


def _parse_attributes(chunk: str, tag_offset: int) -> dict[str, str]:
    """Return the attributes written inside a start tag."""
    attributes: dict[str, str] = {}
    chunk = chunk.rstrip().removesuffix("/")
    pos = 0
    while pos < len(chunk):
        if chunk[pos:].strip() == "":
            break
        match = _ATTRIBUTE.match(chunk, pos)
        if match is None or match.end() == pos:
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag at byte offset "
                f"{tag_offset}"
            )
        name = match.group(1).lower()
        value = next((g for g in match.groups()[1:] if g is not None), "")
        attributes[name] = html.unescape(value)
        pos = match.end()
    return attributes


def _close(tag: _OpenTag, end16: int, entities: list[dict[str, Any]]) -> None:
    """Turn a closed tag into an entity, or merge it into the ``pre`` it annotates."""
    length = end16 - tag.utf16_offset
    if length <= 0:
        return
    entity: dict[str, Any] = {"offset": tag.utf16_offset, "length": length}
    if tag.name == "a":
        href = tag.attributes.get("href", "")
        user = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user:
            entity.update(
                type="text_mention",
                user={"id": int(user.group(1)), "is_bot": False, "first_name": "User"},
            )
        elif href:
            entity.update(type="text_link", url=href)
        else:
            return
    elif tag.name == "span":
        entity["type"] = "spoiler"
    elif tag.name == "tg-emoji":
        entity.update(type="custom_emoji", custom_emoji_id=tag.attributes["emoji-id"])
    elif tag.name == "blockquote" and "expandable" in tag.attributes:
        entity["type"] = "expandable_blockquote"
    else:
        entity["type"] = _SIMPLE_TAGS[tag.name]
    if entity["type"] == "code":
        language = tag.attributes.get("class", "")
        # <pre><code class="language-x"> is one pre entity with a language.
        for other in entities:
            if (
                other["type"] == "pre"
                and other["offset"] == entity["offset"]
                and other["length"] == length
            ):
                break
        else:
            if language.startswith("language-"):
                entity["_language"] = language.removeprefix("language-")
            entities.append(entity)
            return
    if entity["type"] == "pre":
        for other in list(entities):
            if (
                other["type"] == "code"
                and other["offset"] == entity["offset"]
                and other["length"] == length
            ):
                entities.remove(other)
                if "_language" in other:
                    entity["language"] = other["_language"]
    entities.append(entity)


_AUTO_ENTITIES = re.compile(
    r"(?P<bot_command>(?<![^\s(])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@/]))"
    r"|(?P<email>(?<![\w.@])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<mention>(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}(?!\w))"
    r"|(?P<url>(?<![\w/])(?:https?://(?:[\w-]+\.)*[\w-]+|(?:[\w-]+\.)+"
    r"(?:com|org|net|it|eu|edu|gov|int|io|info|uk|de|fr|es|ch|at))(?::\d+)?"
    r"(?:/[^\s]*[^\s.,;:!?)])?/?(?![\w-]))"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d_]\w*)"
)


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Return the entities Telegram's servers find in plain text (commands, mentions, links)."""
    entities: list[dict[str, Any]] = []
    for match in _AUTO_ENTITIES.finditer(text):
        kind = match.lastgroup
        assert kind is not None
        entities.append(
            {
                "type": kind,
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities
