"""Draw the campaign report chart (conversion per arm and cumulative gifts) as PNG bytes."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from bot.domain.money import minor_unit_exponent
from bot.domain.stats import wilson_interval

# Colour-blind-safe palette (Okabe & Ito), cycled when there are more series.
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")
_BAR_WIDTH = 0.38
_LABEL_WIDTH = 14
_MAX_POINTS = 4000


@dataclass(frozen=True)
class ArmSeries:
    """One arm or broadcast post as the chart needs it.

    recipients is 0 for a post whose audience is unknown: it then has no conversion bars. Gift
    amounts are minor units of `currency`, one per gift, aligned with gift_times.
    """

    name: str
    recipients: int
    donors: int
    clickers: int
    currency: str
    gift_times: Sequence[datetime] = field(default_factory=tuple)
    gift_amounts: Sequence[int] = field(default_factory=tuple)


def _main_currency(arms: Sequence[ArmSeries]) -> str | None:
    gifts: dict[str, int] = {}
    for arm in arms:
        gifts[arm.currency] = gifts.get(arm.currency, 0) + len(arm.gift_amounts)
    # max keeps the first of equals, so ties go to the earliest arm's currency.
    return max(gifts, key=gifts.__getitem__) if gifts else None


def _draw_rate(
    ax: Axes, x: float, successes: int, recipients: int, colour: str, solid: bool
) -> float:
    share = successes / recipients
    interval = wilson_interval(successes, recipients)
    ax.bar(
        x,
        share,
        _BAR_WIDTH,
        color=colour if solid else "white",
        edgecolor=colour,
        hatch=None if solid else "////",
        linewidth=1.2,
    )
    ax.errorbar(
        x,
        share,
        yerr=[[share - interval.low], [interval.high - share]],
        fmt="none",
        ecolor="#333333",
        elinewidth=1,
        capsize=4,
    )
    ax.annotate(
        f"{100 * share:.1f}%",
        (x, interval.high),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=8,
    )
    return interval.high


def _draw_conversion(ax: Axes, arms: Sequence[ArmSeries]) -> None:
    top = 0.0
    labels = []
    for i, arm in enumerate(arms):
        colour = _PALETTE[i % len(_PALETTE)]
        if arm.recipients <= 0:
            labels.append(f"{_wrap(arm.name)}\nno recipients")
            continue
        labels.append(f"{_wrap(arm.name)}\nn = {arm.recipients:,}")
        top = max(
            top,
            _draw_rate(ax, i - _BAR_WIDTH / 2, arm.clickers, arm.recipients, colour, False),
            _draw_rate(ax, i + _BAR_WIDTH / 2, arm.donors, arm.recipients, colour, True),
        )
    ax.set_xticks(range(len(arms)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(arms) - 0.4)
    # Headroom above the tallest interval for its label.
    ax.set_ylim(0, min(1.05, top * 1.2) if top > 0 else 0.1)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_ylabel("share of recipients")
    ax.legend(
        handles=[
            Patch(facecolor="white", edgecolor="#555555", hatch="////", label="clicked"),
            Patch(facecolor="#555555", edgecolor="#555555", label="donated"),
        ],
        loc="upper right",
        fontsize=8,
        frameon=False,
    )
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)


def _wrap(name: str) -> str:
    short = textwrap.shorten(name, _LABEL_WIDTH * 3, placeholder="…")
    return "\n".join(textwrap.wrap(short, _LABEL_WIDTH)) or name


def _thin(count: int) -> list[int]:
    # A step line of a million gifts draws no better than one of a few thousand points on a
    # 600-pixel axis, and takes far longer; keep evenly spaced points and both ends.
    if count <= _MAX_POINTS:
        return list(range(count))
    return sorted({round(k * (count - 1) / (_MAX_POINTS - 1)) for k in range(_MAX_POINTS)})


def _seconds(when: datetime) -> float:
    # Matplotlib reads naive datetimes as UTC; do the same so sorting matches the drawing.
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_gifts(ax: Axes, arms: Sequence[ArmSeries], currency: str | None) -> None:
    shown = [
        (i, arm) for i, arm in enumerate(arms) if arm.currency == currency and arm.gift_amounts
    ]
    others = sorted(
        {arm.currency for arm in arms if arm.currency != currency and arm.gift_amounts}
    )
    note = f"; gifts in {', '.join(others)} not shown" if others else ""
    ax.set_title(
        f"Cumulative gifts ({currency}{note})" if currency else "Cumulative gifts", fontsize=10
    )
    ax.grid(color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    if currency is None or not shown:
        _no_data(ax, "No gifts yet")
        return
    decimals = minor_unit_exponent(currency)
    first = min(min(arm.gift_times) for _, arm in shown)
    last = max(max(arm.gift_times) for _, arm in shown)
    # A single instant would give a zero-width axis; pad it to at least an hour.
    end = first + max(last - first, timedelta(hours=1))
    for i, arm in shown:
        if len(arm.gift_times) != len(arm.gift_amounts):
            raise ValueError(
                f"{arm.name}: {len(arm.gift_times)} gift times but {len(arm.gift_amounts)} amounts"
            )
        # Sort and sum with numpy: a Python loop over a million gifts would take seconds.
        seconds = np.fromiter((_seconds(when) for when in arm.gift_times), np.float64)
        order = np.argsort(seconds, kind="stable")
        totals = np.cumsum(np.asarray(arm.gift_amounts, dtype=np.int64)[order]) / 10**decimals
        keep = _thin(len(order))
        # Every line runs from the first gift to the common end, so ends compare at a glance.
        times = [first, *(arm.gift_times[int(order[k])] for k in keep), end]
        heights = [0.0, *(float(totals[k]) for k in keep), float(totals[-1])]
        ax.step(
            date2num(times),  # type: ignore[no-untyped-call]  # matplotlib.dates has no stubs
            heights,
            where="post",
            color=_PALETTE[i % len(_PALETTE)],
            linewidth=2,
            label=f"{arm.name}: {totals[-1]:,.{decimals}f} {currency}",
        )
    margin = (end - first) * 0.02
    ax.set_xlim(
        date2num(first - margin),  # type: ignore[no-untyped-call]
        date2num(end + margin),  # type: ignore[no-untyped-call]
    )
    locator = AutoDateLocator(minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"amount given ({currency})")
    # Below the axes, so the legend never hides a line.
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=min(len(shown), 3),
        fontsize=8,
        frameon=False,
    )


def render_report_chart(
    arms: Sequence[ArmSeries], title: str, *, currency: str | None = None
) -> bytes:
    """Render conversion per arm and cumulative gifts over time as a PNG image.

    currency picks the one currency drawn in the gifts panel; by default the one with the most
    gifts. Gifts in other currencies are left out and the panel says so.
    """
    figure = Figure(figsize=(11, 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    conversion, gifts = figure.subplots(1, 2, width_ratios=(1, 1.15))
    figure.suptitle(title, fontsize=13, fontweight="bold")
    conversion.set_title("Conversion per arm, with 95% Wilson intervals", fontsize=10)
    if any(arm.recipients > 0 for arm in arms):
        _draw_conversion(conversion, arms)
    else:
        _no_data(conversion, "No recipients yet")
    _draw_gifts(gifts, arms, currency or _main_currency(arms))
    buffer = io.BytesIO()
    # No Software/date metadata, so the same report always gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
