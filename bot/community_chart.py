"""Draw the community report's chart (value by way in) as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_SERIES = (
    ("joined", "Joined", "#999999"),
    ("active_30_days_after", "Active 30 days after", "#0072B2"),
    ("donors", "Donors", "#009E73"),
    ("flagged", "Flagged", "#D55E00"),
)
_MOST = 12  # ways in shown; the rest are in the text and JSON


def render_community_chart(sources: Sequence[dict[str, Any]], title: str) -> bytes:
    """Render joined, active, donors and flagged per way in as grouped horizontal bars."""
    shown = list(sources[:_MOST])
    figure = Figure(figsize=(10, 1.2 + 0.55 * max(len(shown), 1)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    figure.suptitle(title, fontsize=13, fontweight="bold")
    if not shown:
        ax.text(0.5, 0.5, "No members yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        labels = [f"{row['kind']}: {row['name']}"[:40] for row in shown]
        y = np.arange(len(shown))
        height = 0.8 / len(_SERIES)
        for index, (key, label, colour) in enumerate(_SERIES):
            values = [row[key] for row in shown]
            ax.barh(y + index * height, values, height, label=label, color=colour)
        ax.set_yticks(y + height * (len(_SERIES) - 1) / 2, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("members")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
