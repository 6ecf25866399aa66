"""Render an `Answer` for the terminal: as text (`render_answer`) or JSON (`answer_json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from learncity.i18n import t

if TYPE_CHECKING:
    from retrieval.types import Answer, Card, ContactInfo


def answer_json(answer: Answer) -> dict[str, Any]:
    """Return the JSON object of one answer (the `ask --json` and `ask -` schema)."""
    return {
        "question": answer.question,
        "lang": answer.lang,
        "kind": answer.kind,
        "abstained": answer.abstained,
        "safeguarding": answer.safeguarding,
        "answer": render_answer(answer),
        "sources": [
            {
                "path": source.path,
                "title": source.title,
                "record_id": source.record_id,
                "kind": source.kind,
                "score": round(source.score, 4),
            }
            for source in answer.sources
        ],
        "programmes": [
            {"id": card.id, "title": card.title}
            for card in answer.cards
            if card.kind == "programme"
        ],
        "events": [
            {"id": card.id, "title": card.title, "when": card.when}
            for card in answer.cards
            if card.kind == "event"
        ],
        "helplines": [_contact_text(contact) for contact in answer.helplines],
        "latency_ms": round(answer.latency_ms, 2),
    }


def render_answer(answer: Answer) -> str:
    """Return an answer as terminal text: helplines, lead, passage, cards, contact, sources."""
    lang = answer.lang
    blocks: list[str] = []
    if answer.helplines:
        lines = [t("cli.safeguarding_intro", lang)]
        lines += [f"  • {_contact_text(contact)}" for contact in answer.helplines]
        lines.append(t("cli.safeguarding_emergency", lang))
        blocks.append("\n".join(lines))
    if answer.text and answer.kind != "safeguarding":
        blocks.append(answer.text)
    if answer.passage is not None and answer.passage.text:
        title, heading = answer.passage.title, answer.passage.heading
        place = f"{title} › {heading}" if heading and heading != title else title
        blocks.append(f"{place}\n{answer.passage.text}" if place else answer.passage.text)
    if answer.cards:
        blocks.append("\n".join(_card_text(card) for card in answer.cards))
    if answer.abstained and answer.suggestions:
        blocks.append(
            t("answers.abstain_suggestions", lang)
            + "\n"
            + "\n".join(f"• {title}" for title in answer.suggestions)
        )
    if answer.contact is not None:
        blocks.append(t("cli.contact", lang) + " " + _contact_text(answer.contact))
    if answer.sources and answer.kind == "answer":
        lines = [t("cli.sources", lang)]
        for number, source in enumerate(answer.sources[:3], start=1):
            where = source.path + (f" — {source.url}" if source.url else "")
            lines.append(f"  [{number}] {source.title} ({where})")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _card_text(card: Card) -> str:
    details = " · ".join(part for part in (card.when, card.where, card.cost) if part)
    return f"• {card.title}" + (f" — {details}" if details else "")


def _contact_text(contact: ContactInfo) -> str:
    parts = [contact.name, *(v for v in (contact.phone, contact.email, contact.url) if v)]
    line = " · ".join(parts)
    return f"{line} ({contact.hours})" if contact.hours else line
