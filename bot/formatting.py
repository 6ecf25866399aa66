"""Telegram HTML for answers, cards and contacts, and a splitter that never breaks a tag.

Everything that comes from the knowledge folder or the resident is escaped here; only the tags this
module writes reach Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from learncity.i18n import t
from retrieval.types import Answer, Card, ContactInfo

TELEGRAM_LIMIT = 4096

_TOKEN = re.compile(r"(<[^>]+>|&[#\w]+;|\n|[ \t]+|[^<&\n \t]+|[<&])")
_TAG = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>")
_EMPTY_PAIR = re.compile(r"<([a-zA-Z-]+)(?: [^>]*)?></\1>")
_ANY_TAG = re.compile(r"<[^>]+>")


def _tidy(chunk: str) -> str | None:
    # A cut can leave "<b></b>" behind; drop such pairs, and chunks with nothing visible.
    previous = None
    while previous != chunk:
        previous, chunk = chunk, _EMPTY_PAIR.sub("", chunk)
    return chunk if _ANY_TAG.sub("", chunk).strip() else None


def split_html(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into messages of at most `limit` characters, closing and reopening tags.

    Breaks at a line end when one is in the second half of a message, else between words, else
    inside a long word (never inside a tag or an entity).
    """
    if limit < 64:
        raise ValueError(f"limit ({limit}) must be at least 64")
    if len(html) <= limit:
        return [html] if html.strip() else []
    chunks: list[str] = []
    current = ""
    stack: list[tuple[str, str]] = []  # (tag name, opening tag)
    line_break: tuple[int, list[tuple[str, str]]] | None = None

    def closing(tags: Sequence[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(tags))

    def reopening(tags: Sequence[tuple[str, str]]) -> str:
        return "".join(opening for _, opening in tags)

    def flush() -> None:
        nonlocal current, line_break
        if line_break is not None and line_break[0] > limit // 2:
            cut, tags = line_break
            head, tail = current[:cut], current[cut:]
            chunks.append(head + closing(tags))
            current = reopening(tags) + tail.lstrip("\n")
        else:
            chunks.append(current + closing(stack))
            current = reopening(stack)
        line_break = None

    for token in _TOKEN.findall(html):
        tag = _TAG.fullmatch(token)
        after = list(stack)
        if tag:
            name = tag.group(2).lower()
            if tag.group(1):
                for index in range(len(after) - 1, -1, -1):
                    if after[index][0] == name:
                        del after[index]
                        break
            else:
                after.append((name, token))
        reserve = len(closing(after))
        while len(current) + len(token) + reserve > limit and current.strip():
            before = len(current)
            flush()
            if len(current) >= before:  # nothing could be moved out: cut the token itself
                break
        if not tag and len(current) + len(token) + reserve > limit:
            # A single word longer than a message: cut it (plain characters, no entity).
            while len(current) + len(token) + reserve > limit:
                room = max(limit - len(current) - reserve, 1)
                current += token[:room]
                token = token[room:]
                flush()
        current += token
        stack = after
        if token == "\n":
            line_break = (len(current), list(stack))
    chunks.append(current + closing(stack))
    return [tidy for chunk in chunks if (tidy := _tidy(chunk)) is not None]


def _contact_lines(contact: ContactInfo, lang: str) -> list[str]:
    lines = [f"<b>{escape(contact.name)}</b>"]
    if contact.description:
        lines.append(escape(contact.description))
    if contact.phone:
        lines.append(t("bot.contact.phone", lang, phone=escape(contact.phone)))
    if contact.email:
        lines.append(t("bot.contact.email", lang, email=escape(contact.email)))
    if contact.url:
        lines.append(f'<a href="{escape(contact.url, quote=True)}">{escape(contact.url)}</a>')
    if contact.hours:
        lines.append(t("bot.contact.hours", lang, hours=escape(contact.hours)))
    return lines


def contact_html(contact: ContactInfo, lang: str) -> str:
    """Render one human contact."""
    return "\n".join(_contact_lines(contact, lang))


def card_line(card: Card, lang: str, number: int | None = None) -> str:
    """Render a card as a short list entry."""
    prefix = f"{number}. " if number is not None else "• "
    parts = [f"{prefix}<b>{escape(card.title)}</b>"]
    details = [part for part in (card.when, card.where) if part]
    if card.distance_km is not None:
        details.append(t("bot.card.distance", lang, km=f"{card.distance_km:.1f}"))
    if details:
        parts.append(escape(" · ".join(details)))
    return "\n".join(parts)


def card_html(card: Card, lang: str) -> str:
    """Render a card in full (the Details view)."""
    lines = [f"<b>{escape(card.title)}</b>"]
    if card.summary:
        lines.append(escape(card.summary))
    if card.when:
        lines.append(t("bot.card.when", lang, when=escape(card.when)))
    if card.where:
        lines.append(t("bot.card.where", lang, where=escape(card.where)))
    if card.distance_km is not None:
        lines.append(t("bot.card.distance", lang, km=f"{card.distance_km:.1f}"))
    if card.cost:
        lines.append(t("bot.card.cost", lang, cost=escape(card.cost)))
    if card.url:
        lines.append(f'<a href="{escape(card.url, quote=True)}">{escape(card.url)}</a>')
    lines.append(t("bot.card.source", lang, path=escape(card.path)))
    return "\n".join(lines)


def answer_html(answer: Answer) -> str:
    """Render an answer's parts: helplines, lead, guide passage, cards, contact, sources note."""
    lang = answer.lang
    blocks: list[str] = []
    if answer.helplines:
        blocks.append(t("bot.safeguarding.intro", lang))
        blocks.extend(contact_html(contact, lang) for contact in answer.helplines)
        blocks.append(t("bot.safeguarding.emergency", lang))
    if answer.text and answer.kind != "safeguarding":
        blocks.append(escape(answer.text.strip()))
    passage = answer.passage
    if passage is not None and passage.text:
        body = escape(passage.text)
        place = passage_place(passage.title, passage.heading)
        blocks.append(f"<b>{escape(place)}</b>\n{body}" if place else body)
    if answer.cards:
        lines = [card_line(card, lang, number) for number, card in enumerate(answer.cards, 1)]
        blocks.append("\n\n".join(lines))
    if answer.abstained and answer.suggestions:
        topics = escape(", ".join(answer.suggestions))
        blocks.append(t("bot.answer.suggestions", lang, topics=topics))
    if answer.contact is not None:
        blocks.append(t("bot.answer.contact", lang) + "\n" + contact_html(answer.contact, lang))
    if (answer.sources or answer.cards) and not answer.abstained and answer.kind == "answer":
        blocks.append(t("bot.answer.sources", lang))
    return "\n\n".join(block for block in blocks if block)


def passage_place(title: str, heading: str) -> str:
    """Return where a passage comes from: "Guide title › Section" (or the title alone)."""
    if heading and heading != title:
        return f"{title} › {heading}" if title else heading
    return title


def passage_html(title: str, snippet: str, path: str, lang: str) -> str:
    """Render the passage behind a source button."""
    return "\n".join(
        (
            f"<b>{escape(title)}</b>",
            f"<blockquote>{escape(snippet)}</blockquote>",
            t("bot.card.source", lang, path=escape(path)),
        )
    )


def short(text: str, limit: int = 40) -> str:
    """Cut `text` for a button label."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
