"""Structure-aware chunking: sections, titles in every chunk, deterministic ids, clear errors."""

from __future__ import annotations

import pytest

from retrieval.chunking import split_sections

GUIDE = """# Library card

Everyone living in the city can get a library card for free.

## How to apply
Bring an identity document to any branch of the city library.
Children under 14 need a parent.

## Opening hours
Monday to Friday 9:00-19:00, Saturday 9:00-13:00.
"""

PLAIN = (
    """Anno Accademico 2024/2025
Laurea in INFORMATICA
---------
Sbocchi Occupazionali
Sviluppatore software, analista di sistemi.
---------
Caratteristiche della Prova Finale
"""
    + "La prova finale consiste nella discussione di un elaborato. " * 40
)


def test_markdown_sections_carry_title_and_heading() -> None:
    chunks = split_sections(GUIDE, title="Library card", metadata={"path": "g.md"}, min_chars=0)
    assert [c.metadata["section"] for c in chunks] == ["", "How to apply", "Opening hours"]
    assert all(c.text.startswith("Library card\n") for c in chunks)
    assert "Library card\nOpening hours\nMonday" in chunks[2].text


def test_dash_rules_split_and_long_sections_are_cut_with_the_heading_repeated() -> None:
    chunks = split_sections(
        PLAIN,
        title="Laurea in INFORMATICA",
        metadata={"path": "p.txt"},
        max_chars=500,
        overlap=50,
    )
    final = [c for c in chunks if c.metadata["section"] == "Caratteristiche della Prova Finale"]
    assert len(final) >= 4
    assert all(
        c.text.startswith("Laurea in INFORMATICA\nCaratteristiche della Prova Finale\n")
        for c in final
    )
    # A short tail is glued to its neighbour: at most max_chars + min_chars + the header.
    assert all(len(c.text) <= 500 + 300 + 60 for c in chunks)


def test_small_sections_are_merged_not_left_as_lone_headings() -> None:
    chunks = split_sections(PLAIN, title="Laurea in INFORMATICA", metadata={"path": "p.txt"})
    assert "Sbocchi Occupazionali" in chunks[0].text  # merged with the short opening section
    assert min(len(c.text) for c in chunks) > 100


def test_ids_are_deterministic_and_depend_on_path() -> None:
    first = split_sections(GUIDE, title="Library card", metadata={"path": "g.md"})
    again = split_sections(GUIDE, title="Library card", metadata={"path": "g.md"})
    moved = split_sections(GUIDE, title="Library card", metadata={"path": "h.md"})
    assert [c.id for c in first] == [c.id for c in again]
    assert not {c.id for c in first} & {c.id for c in moved}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"max_chars": 200, "overlap": 300},
            "chunk overlap (300) must be less than chunk size (200)",
        ),
        ({"max_chars": 0}, "chunk size (0) must be positive"),
    ],
)
def test_bad_arguments_fail_with_the_exact_constraint(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        split_sections("text", title="t", metadata={"path": "p"}, **kwargs)


def test_missing_path_is_refused() -> None:
    with pytest.raises(ValueError, match="'path'"):
        split_sections("text", title="t", metadata={})
