"""The printed table: its columns, cell format, aligned text or Markdown, and speed rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quality.metrics import percentile

COLUMNS = (
    ("section", "section"),
    ("subset", "subset"),
    ("n", "n"),
    ("r1", "R@1"),
    ("r5", "R@5"),
    ("mrr", "MRR"),
    ("top3", "right in top 3"),
    ("wrong_abstain", "answerable abstained"),
    ("oos_abstain", "out of scope abstained"),
    ("other", "other"),
)


def fmt(value: Any) -> str:
    """Format a cell: 3 decimals for shares, '-' for missing."""
    if value is None or value == "":
        return "" if value == "" else "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render(rows: Sequence[dict[str, Any]], *, markdown: bool) -> str:
    """Return the table as aligned text or as Markdown."""
    header = [title for _, title in COLUMNS]
    cells = [[fmt(row.get(key, "")) for key, _ in COLUMNS] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def speed_row(name: str, whole: Sequence[float], bare_ms: Sequence[float]) -> dict[str, Any]:
    """Return a table row comparing whole-answer and bare retrieval latency."""
    w50, w95 = percentile(whole, 50), percentile(whole, 95)
    b50, b95 = percentile(bare_ms, 50), percentile(bare_ms, 95)

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    ratio = f"{w95 / b95:.1f}x" if w95 and b95 else "-"
    text = (
        f"whole answer p50/p95 {ms(w50)}/{ms(w95)} ms; bare embed + Chroma top 5 "
        f"{ms(b50)}/{ms(b95)} ms; p95 ratio {ratio}"
    )
    return {"section": "speed", "subset": name, "n": len(whole), "other": text}
