"""Tests for the report chart: a readable PNG for full, mixed-currency and empty campaigns."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from bot.charts import ArmSeries, minor_unit_exponent, render_report_chart

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def _arm(name: str, recipients: int, donors: int, clickers: int, seed: int) -> ArmSeries:
    rng = np.random.default_rng(seed)
    hours = np.sort(rng.exponential(40.0, size=donors))
    return ArmSeries(
        name=name,
        recipients=recipients,
        donors=donors,
        clickers=clickers,
        currency="EUR",
        gift_times=[START + timedelta(hours=float(h)) for h in hours],
        gift_amounts=[int(a) for a in rng.choice([500, 1000, 2000], size=donors)],
    )


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _distinct_colours(image: Image.Image) -> int:
    colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    assert colours is not None
    return len(colours)


def test_full_campaign_renders_a_png() -> None:
    arms = [
        _arm("specific", 1200, 84, 260, seed=1),
        _arm("broadcast-style", 1180, 35, 140, seed=2),
        _arm("holdout", 300, 3, 0, seed=3),
        _arm("channel post", 0, 12, 40, seed=4),
    ]
    png = render_report_chart(arms, "Spring appeal")
    image = _open(png)
    assert image.format == "PNG"
    assert image.size == (1100, 480)
    # Bars, lines and text in several colours, not a blank canvas.
    assert _distinct_colours(image) > 50


def test_output_is_deterministic() -> None:
    arms = [_arm("specific", 500, 20, 60, seed=5), _arm("broadcast-style", 500, 9, 30, seed=6)]
    assert render_report_chart(arms, "Same") == render_report_chart(arms, "Same")


@pytest.mark.parametrize(
    "arms",
    [
        [],
        [
            ArmSeries("specific", 0, 0, 0, "EUR"),
            ArmSeries("broadcast-style", 0, 0, 0, "EUR"),
        ],
        # One gift at a single instant, and one arm with recipients but no gifts.
        [
            ArmSeries("specific", 10, 1, 2, "EUR", [START], [500]),
            ArmSeries("broadcast-style", 10, 0, 0, "EUR"),
        ],
    ],
    ids=["no-arms", "zero-recipients", "single-gift"],
)
def test_sparse_campaigns_still_render(arms: list[ArmSeries]) -> None:
    image = _open(render_report_chart(arms, "Empty campaign"))
    assert image.format == "PNG"
    assert image.size == (1100, 480)


def test_other_currencies_are_left_out_not_mixed() -> None:
    eur = _arm("specific", 100, 5, 10, seed=7)
    usd = ArmSeries("channel post", 0, 2, 5, "USD", [START, START + timedelta(days=1)], [1, 2])
    with_usd = render_report_chart([eur, usd], "Mixed", currency="EUR")
    # The USD series changes the picture only through the note in the gifts panel's title
    # and its tick label, so the image differs from the EUR-only one but still renders.
    assert _open(with_usd).format == "PNG"
    assert with_usd != render_report_chart([eur], "Mixed", currency="EUR")


@pytest.mark.parametrize(("currency", "decimals"), [("EUR", 2), ("jpy", 0), ("KWD", 3)])
def test_minor_unit_exponent(currency: str, decimals: int) -> None:
    assert minor_unit_exponent(currency) == decimals


def test_fifty_thousand_gifts_render() -> None:
    rng = np.random.default_rng(8)
    times = [START + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 604_800, 50_000))]
    amounts = [int(a) for a in rng.choice([500, 1000], size=50_000)]
    arm = ArmSeries("specific", 1_000_000, 50_000, 90_000, "EUR", times, amounts)
    # The step line is thinned to a few thousand points, so this stays well under a second.
    image = _open(render_report_chart([arm], "Big"))
    assert image.format == "PNG"
    assert image.size == (1100, 480)


def test_gift_times_and_amounts_must_align() -> None:
    arm = ArmSeries("specific", 10, 2, 2, "EUR", [START, START], [500])
    with pytest.raises(ValueError, match="2 gift times but 1 amounts"):
        render_report_chart([arm], "Broken")
