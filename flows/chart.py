"""The results picture: horizontal bars (or a radar) per competence, coloured by area, as PNG bytes.

matplotlib is imported when the first chart is drawn, never at import time, and only the Agg
canvas is used (no pyplot, no global state), so charts can be drawn from any thread.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping
from typing import Literal

from flows.definitions import FlowDefinition
from flows.scoring import Result
from learncity.content.models import text_in

# Colour-blind-safe (Okabe-Ito) colours, one per area.
AREA_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render_chart(
    flow: FlowDefinition,
    result: Result,
    *,
    lang: str,
    title: str,
    previous: Mapping[str, float] | None = None,
    previous_label: str = "",
    kind: Literal["bars", "radar"] = "bars",
    dpi: int = 100,
) -> bytes:
    """Draw the result of `flow` with labels in `lang`; return PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [_wrap(text_in(c.name, lang)) for c in flow.competences]
    means = [s.mean for s in result.competences]
    area_index = {area.id: i for i, area in enumerate(flow.areas)}
    colours = [AREA_COLOURS[area_index[c.area] % len(AREA_COLOURS)] for c in flow.competences]
    low, high = flow.scale.low, flow.scale.high
    before = [previous.get(c.id) if previous else None for c in flow.competences]

    if kind == "radar":
        figure = Figure(figsize=(6.4, 6.4), dpi=dpi)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(projection="polar")
        angles = [2 * math.pi * i / len(means) for i in range(len(means))]
        closed = [*angles, angles[0]]
        axes.plot(closed, [*means, means[0]], color=AREA_COLOURS[0], linewidth=2)
        axes.fill(closed, [*means, means[0]], color=AREA_COLOURS[0], alpha=0.25)
        if previous and all(value is not None for value in before):
            old = [float(value) for value in before if value is not None]
            axes.plot(closed, [*old, old[0]], color="#777777", linestyle="--", linewidth=1,
                      label=previous_label or None)
        axes.set_xticks(angles)
        axes.set_xticklabels(names, fontsize=8)
        axes.set_ylim(low - 0.5 if low > 0 else 0, high)
        axes.set_yticks(list(range(low, high + 1)))
        axes.tick_params(axis="y", labelsize=7)
    else:
        height = 1.4 + 0.48 * len(means)
        figure = Figure(figsize=(7.0, height), dpi=dpi)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        rows = list(range(len(means)))[::-1]  # first competence on top
        axes.barh(rows, [m - (low - 0.5) for m in means], left=low - 0.5, color=colours,
                  height=0.62)
        for row, mean in zip(rows, means, strict=True):
            axes.text(mean + 0.05, row, f"{mean:.1f}", va="center", fontsize=8)
        marks = [(row, value) for row, value in zip(rows, before, strict=True) if value is not None]
        if marks:
            axes.scatter([v for _, v in marks], [r for r, _ in marks], marker="|", s=260,
                         color="#333333", linewidths=2, zorder=3, label=previous_label or None)
        for band in flow.scoring.bands[1:]:
            axes.axvline(band.min, color="#bbbbbb", linewidth=0.8, linestyle=":", zorder=0)
        axes.set_yticks(rows)
        axes.set_yticklabels(names, fontsize=9)
        axes.set_xlim(low - 0.5, high + 0.4)
        axes.set_xticks(list(range(low, high + 1)))
        axes.spines[["top", "right"]].set_visible(False)
        if len(flow.areas) > 1:
            from matplotlib.patches import Patch

            handles = [
                Patch(color=AREA_COLOURS[i % len(AREA_COLOURS)], label=text_in(area.name, lang))
                for i, area in enumerate(flow.areas)
            ]
            axes.legend(handles=handles, loc="upper center",
                        bbox_to_anchor=(0.5, -0.08 - 0.3 / height), ncol=len(handles),
                        fontsize=8, frameon=False)
    axes.set_title(title, fontsize=11, pad=12)
    if previous_label and kind == "radar" and previous:
        axes.legend(loc="lower right", fontsize=8, frameon=False, bbox_to_anchor=(1.15, -0.1))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _wrap(label: str, width: int = 22) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label
