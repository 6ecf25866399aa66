"""Guides in Markdown, plain text, PDF and HTML: title, language and sections."""

from __future__ import annotations

from pathlib import Path

from learncity.content.guides import detect_language
from learncity.content.loader import load_knowledge
from tests.content.test_loader import CONTACTS, write


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """Return a small valid PDF with one text line per input line (ASCII only)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for number, text in enumerate(pages):
        escaped = [
            line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            for line in text.split("\n")
        ]
        ops = "BT /F1 11 Tf 50 750 Td 14 TL\n" + "\n".join(f"({line}) Tj T*" for line in escaped)
        stream = (ops + "\nET").encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R"
            f" >> >> /Contents {5 + 2 * number} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = ""
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
        info = f" /Info {len(objects)} 0 R"
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return out


def load_guides(tmp_path: Path, files: dict[str, str | bytes]):
    root = write(tmp_path / "knowledge", {"contacts.yaml": CONTACTS, **files})
    return load_knowledge(root)


def test_markdown_sections_follow_headings_and_skip_code_blocks(tmp_path: Path) -> None:
    text = """\
---
title: Doposcuola
audience: families
language: it
source_url: https://example.org/doposcuola
last_updated: 2026-11-01
---
# Doposcuola e tutoraggio

Il doposcuola aiuta con i compiti.

## Dove

Nelle biblioteche di quartiere.

### Orari

Dal lunedì al venerdì.

```
# not a heading
```

## Costi

Gratis.
"""
    kb = load_guides(tmp_path, {"guides/doposcuola.md": text})

    assert kb.errors == []
    guide = kb.guides["guides/doposcuola.md"]
    assert guide.title == "Doposcuola"
    assert guide.lang == "it"
    assert guide.meta.source_url == "https://example.org/doposcuola"
    assert [heading for heading, _ in guide.sections] == ["", "Dove", "Dove › Orari", "Costi"]
    assert guide.sections[0][1] == "Il doposcuola aiuta con i compiti."
    assert "# not a heading" in guide.sections[2][1]
    assert "title:" not in guide.text


def test_title_comes_from_the_first_heading_else_the_file_name(tmp_path: Path) -> None:
    kb = load_guides(
        tmp_path,
        {
            "guides/a.md": "## Enrolment at school\n\nYou can enrol your child in January.\n",
            "guides/youth-jobs_2026.md": "Programmes for the young who are looking for a job.\n",
        },
    )

    assert kb.errors == []
    assert kb.guides["guides/a.md"].title == "Enrolment at school"
    assert kb.guides["guides/a.md"].lang == "en"
    assert kb.guides["guides/youth-jobs_2026.md"].title == "Youth jobs 2026"


def test_front_matter_problems_point_at_their_line(tmp_path: Path) -> None:
    kb = load_guides(
        tmp_path,
        {
            "guides/a.md": "---\ntitle: A\naudience: [parents, elderly]\n---\n# A\n\nTesto.\n",
            "guides/b.md": "---\ntitle: B\nlast_updated: [oops\n---\nTesto.\n",
            "guides/c.md": "---\ntitle: C\n\nNo closing line.\n",
        },
    )

    found = [str(e) for e in kb.errors]
    assert found[0].startswith("guides/a.md:3: audience 'elderly' is not allowed; allowed:")
    assert found[1].startswith("guides/b.md:4: ")
    assert found[2] == (
        "guides/c.md:1: the front matter opened by '---' on line 1 has no closing '---' line"
    )
    assert kb.guides == {}


def test_a_guide_with_no_text_is_reported(tmp_path: Path) -> None:
    kb = load_guides(tmp_path, {"guides/a.md": "---\ntitle: Vuota\n---\n\n"})

    assert [str(e) for e in kb.errors] == ["guides/a.md: the guide has no text to read"]


def test_plain_text_sections_by_standalone_headings_and_dashed_lines(tmp_path: Path) -> None:
    text = """\
Biblioteche e maker space

Le biblioteche comunali prestano libri e computer.

Orari di apertura
-----------------
Dal lunedì al sabato, 9-19.

Iscrizione
Serve un documento di identità.
La tessera è gratuita.

---

Note finali sul servizio.
"""
    kb = load_guides(tmp_path, {"guides/biblioteche.txt": text})

    assert kb.errors == []
    guide = kb.guides["guides/biblioteche.txt"]
    assert guide.title == "Biblioteche e maker space"
    assert [heading for heading, _ in guide.sections] == [
        "Biblioteche e maker space",
        "Orari di apertura",
        "",
    ]
    assert "Iscrizione\nServe un documento" in guide.sections[1][1]
    assert guide.sections[2][1] == "Note finali sul servizio."


def test_pdf_pages_become_sections(tmp_path: Path) -> None:
    pdf = make_pdf(
        ["Recognition of prior learning\nYou can have your skills certified.", "Ask the CPIA."],
        title="Prior learning",
    )
    kb = load_guides(
        tmp_path,
        {
            "guides/rpl.pdf": pdf,
            "guides/untitled.pdf": make_pdf(
                ["Riconoscimento delle competenze\nPuoi certificare quello che sai fare."]
            ),
        },
    )

    assert kb.errors == []
    guide = kb.guides["guides/rpl.pdf"]
    assert guide.title == "Prior learning"
    assert guide.lang == "en"
    assert [heading for heading, _ in guide.sections] == ["p. 1", "p. 2"]
    assert "skills certified" in guide.sections[0][1]
    untitled = kb.guides["guides/untitled.pdf"]
    assert untitled.title == "Riconoscimento delle competenze"
    assert untitled.lang == "it"


def test_a_pdf_without_text_is_reported(tmp_path: Path) -> None:
    kb = load_guides(tmp_path, {"guides/scan.pdf": make_pdf([""])})

    assert [e.message for e in kb.errors] == [
        "the PDF has no text that can be read (is it a scanned image?): "
        "add a version with real text"
    ]


def test_html_sections_at_h1_to_h3_and_inline_text_stays_together(tmp_path: Path) -> None:
    html = """<!doctype html><html lang="en"><head><title>Page title</title>
<style>p {color: red}</style><script>var x = 1;</script></head><body>
<nav>Home | About</nav>
<h1>Italian for foreigners</h1><p>Free courses at the <b>CPIA</b> and in libraries.</p>
<h2>Levels</h2><ul><li>A1</li><li>A2</li></ul>
<h3>Tests</h3><p>Placement test<br>on Mondays.</p>
<h2>Costs</h2><p>Free.</p>
</body></html>"""
    kb = load_guides(tmp_path, {"guides/italian.html": html.encode()})

    assert kb.errors == []
    guide = kb.guides["guides/italian.html"]
    assert guide.title == "Italian for foreigners"
    assert guide.lang == "en"
    assert guide.sections == [
        ("", "Free courses at the CPIA and in libraries."),
        ("Levels", "- A1\n- A2"),
        ("Levels › Tests", "Placement test\non Mondays."),
        ("Costs", "Free."),
    ]
    assert "var x" not in guide.text and "Home | About" not in guide.text


def test_language_is_detected_from_common_words() -> None:
    assert detect_language("Come posso iscrivere mio figlio alla scuola?") == "it"
    assert detect_language("How can I enrol my son at the school?") == "en"
    assert detect_language("CPIA") == "it"  # a tie keeps the default


def test_pdf_headings_start_sections_and_stay_out_of_sentences(tmp_path: Path) -> None:
    body = (
        "Skills validation\n"
        "A guide for people who learned at work and want it recognised, written for residents of\n"
        "the city. Updated in October 2026.\n"
        "The three phases\n"
        "First you collect evidence of what you can do with an adviser, then a board assesses the\n"
        "file. At the end you receive a certificate.\n"
        "Where to go\n"
        "The validation desk is open on Tuesdays."
    )
    kb = load_guides(tmp_path, {"guides/rpl.pdf": make_pdf([body])})

    guide = kb.guides["guides/rpl.pdf"]
    assert [heading for heading, _ in guide.sections] == ["", "The three phases", "Where to go"]
    assert guide.sections[1][1].startswith("First you collect evidence")
    assert "The three phases" not in guide.sections[0][1]


def test_html_table_rows_read_cell_by_cell(tmp_path: Path) -> None:
    html = """<html lang="it"><body><h1>Mensa</h1><h2>Tariffe</h2><table>
<tr><th>ISEE</th><th>Costo a pasto</th></tr>
<tr><td>fino a 5.000 euro</td><td>gratis</td></tr>
<tr><td>oltre 20.000 euro</td><td>3,50 euro</td></tr></table></body></html>"""
    kb = load_guides(tmp_path, {"guides/mensa.html": html.encode()})

    guide = kb.guides["guides/mensa.html"]
    assert guide.sections[-1] == (
        "Tariffe",
        "ISEE — Costo a pasto\n"
        "- ISEE: fino a 5.000 euro — Costo a pasto: gratis\n"
        "- ISEE: oltre 20.000 euro — Costo a pasto: 3,50 euro",
    )
