"""Preview: audience size, segments, expected arm split and real rendered messages."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_settings
from bot.domain.experiment import assign_arm, expected_split
from bot.services.preview import preview_campaign
from tests.factories import NOW, add_interaction, add_supporter, make_campaign

SETTINGS = load_settings(
    {"public_base_url": "https://bot.example.org/", "timezone": "Europe/Amsterdam"},
    env_file=None,
)
BROKEN = Path(__file__).parent / "campaigns_broken"


def test_arm_assignment_is_stable_and_follows_the_weights() -> None:
    weights = {"specific": 0.8, "broadcast": 0.2}
    first = [assign_arm("winter", n, weights) for n in range(5000)]
    assert first == [assign_arm("winter", n, dict(reversed(weights.items()))) for n in range(5000)]
    share = Counter(first)["specific"] / 5000
    assert 0.77 < share < 0.83
    assert first != [assign_arm("spring", n, weights) for n in range(5000)]
    assert expected_split(50, weights) == {"specific": 40.0, "broadcast": 10.0}
    with pytest.raises(ValueError):
        assign_arm("winter", 1, {"a": 0.0})


async def test_preview_counts_splits_and_renders_real_messages(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    campaign = make_campaign(
        {
            "any": [
                {"interaction": "visited_exhibition"},
                {"interaction": "comment", "sentiment": "positive"},
            ]
        },
        arms={
            "specific": {"kind": "specific", "weight": 2, "message": "personal"},
            "holdout": {"kind": "holdout", "weight": 2},
        },
    )
    async with sessions() as session, session.begin():
        ann = await add_supporter(session, first_name="<b>Ann</b>", engagement_score=9.0)
        await add_interaction(
            session, ann, "visited_exhibition", NOW - timedelta(days=50), detail="Old show"
        )
        await add_interaction(
            session, ann, "visited_exhibition", NOW - timedelta(days=10), detail="Dutch Masters"
        )
        bob = await add_supporter(session, first_name="Bob", language="nl", engagement_score=5.0)
        await add_interaction(session, bob, "comment", NOW, sentiment="positive")
        nobody = await add_supporter(session, first_name="Cas")
        await add_interaction(session, nobody, "comment", NOW, sentiment="negative")
    preview = await preview_campaign(sessions, campaign, now=NOW, settings=SETTINGS, count=5)
    assert preview.audience_size == 2
    assert preview.segments == {
        "any[0]: visited_exhibition": 1,
        "any[1]: comment sentiment=positive": 1,
    }
    assert preview.arms == {"specific": 1.0, "holdout": 1.0}
    assert preview.donate_link == "https://bot.example.org/r/PREVIEW"
    assert [sample.supporter_id for sample in preview.samples] == [ann.id, bob.id]
    for sample in preview.samples:
        assert sample.arm == assign_arm(campaign.name, sample.supporter_id, campaign.weights())
        if sample.arm == "holdout":
            assert sample.text is None
        elif sample.supporter_id == ann.id:
            assert sample.text is not None
            assert "Dear &lt;b&gt;Ann&lt;/b&gt;, you saw Dutch Masters." in sample.text
            assert 'href="https://bot.example.org/r/PREVIEW"' in sample.text
        else:
            assert sample.text is not None and sample.text.startswith("Beste Bob")


def test_validate_prints_ok_or_each_error_and_exits_1(tmp_path: Path) -> None:
    good = Path(__file__).parents[1] / "campaigns" / "museum-winter-appeal.yaml"
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0
    assert ok.stdout.strip() == f"ok: {good}"
    broken = runner.invoke(app, ["validate", str(good), str(BROKEN / "two-subjects.yaml")])
    assert broken.exit_code == 1
    assert "two-subjects.yaml:9: audience.any[1]: a rule needs exactly one of" in broken.output
