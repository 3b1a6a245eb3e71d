"""Tests for the report's outputs: JSON schema, text, Telegram HTML, web page, chart and CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.domain.campaign import dump_campaign
from bot.domain.message_length import MESSAGE_MAX_UTF16, utf16_length
from bot.domain.spec import Campaign
from bot.services.report_chat import format_telegram_html, report_chart
from bot.services.report_format import format_text
from bot.services.report_json import to_json
from bot.services.report_model import PostReport, Rate, Report
from bot.services.report_page import format_html_page
from bot.services.reporting import build_report
from bot.storage import referrals
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.models import Supporter
from tests.report_seed import CHAT, NOT_FOUND, NOW, TITLE, seed_spring, spring_spec

README = Path(__file__).resolve().parents[1] / "README.md"


def _json_doc() -> str:
    """Return the README's section on the report's JSON."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### The report's JSON")
    return text[start : text.index("\n## ", start)]


@pytest.fixture
async def report(sqlite_sessions: async_sessionmaker[AsyncSession]) -> Report:
    """The seeded campaign's report."""
    await seed_spring(sqlite_sessions)
    async with sqlite_sessions() as session, session.begin():
        # The first supporter brought the second back (re-engaged) after all their gifts.
        first, second = (
            (await session.execute(select(Supporter.id).order_by(Supporter.id)))
            .scalars()
            .all()[:2]
        )
        await referrals.credit(
            session=session,
            referred_id=second,
            referrer_id=first,
            via="start",
            new=False,
            at=NOW,
        )
    return await build_report(sqlite_sessions, spring_spec(), now=NOW)


def _keys(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Give the key set of every fixed-shape object of a report's JSON, by path."""
    first = {name: doc[name][0] for name in ("arms", "posts", "segments", "comparisons")}
    first["revenue"] = doc["revenue"][0]
    comparison = first["comparisons"]
    return {
        "top": set(doc),
        "campaign": set(doc["campaign"]),
        "period": set(doc["period"]),
        "arm": set(first["arms"]),
        "arm.rates": set(first["arms"]["rates"]),
        "rate": set(first["arms"]["rates"]["donation"]),
        "post": set(first["posts"]),
        "segment": set(first["segments"]),
        "comparison": set(comparison),
        "always_valid": set(comparison["always_valid"]),
        "revenue.always_valid": set(first["revenue"]["always_valid"]),
        "cuped": set(first["revenue"]["cuped"]),
        "estimate": set(comparison["difference"]),
        "lift": set(comparison["relative_lift"]),
        "revenue": set(first["revenue"]),
        "interval": set(first["revenue"]["interval_minor"]),
        "srm": set(doc["srm"]),
        "response_times": set(doc["response_times"][0]),
        "referral": set(doc["referrals"][0]),
    }


async def test_json_has_the_documented_schema(report: Report) -> None:
    doc = to_json(report)
    # Valid strict JSON: no NaN or infinity anywhere.
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert doc["schema_version"] == 2
    example = re.search(r"```json\n(.*?)```", _json_doc(), re.S)
    assert example is not None
    assert _keys(doc) == _keys(json.loads(example.group(1)))
    # Every field is described above the example, not only shown in it.
    described = _json_doc().split("## Example")[0]
    for fields in _keys(doc).values():
        assert [f for f in sorted(fields) if not re.search(rf"\b{f}\b", described)] == []
    specific = doc["arms"][0]
    assert specific["amounts_minor"] == {"EUR": 4000, "USD": 1000}
    assert specific["rates"]["donation"]["count"] == 3


async def test_json_of_a_campaign_not_launched(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    doc = to_json(await build_report(sqlite_sessions, spring_spec(), now=NOW))
    assert doc["campaign"]["launched"] is False
    assert doc["arms"] == doc["comparisons"] == [] and doc["srm"] is None
    assert "not been launched" in doc["notes"][0]
    assert "not been launched" in format_text(
        await build_report(sqlite_sessions, spring_spec(), now=NOW)
    )


async def test_text_shows_the_funnel_and_the_verdict(report: Report) -> None:
    text = format_text(report)
    assert text.startswith(f"{TITLE} (spring-appeal): running")
    assert "FUNNEL PER ARM (randomised)" in text
    assert "observational" in text and CHAT in text
    assert "€40.00" in text and "$10.00" in text
    assert "Holm-adjusted" in text and "no conclusion yet" in text
    assert "always-valid 95% CI" in text and "fixed-horizon (one planned look)" in text
    assert "SAMPLE RATIO: OK" in text
    assert "SEGMENTS BY LANGUAGE" in text
    assert "2d 0h" in text  # median time to first gift


async def test_telegram_message_is_short_and_escaped(report: Report) -> None:
    html = format_telegram_html(report)
    assert utf16_length(html) < MESSAGE_MAX_UTF16
    assert "Spring &lt;appeal&gt; &amp; &quot;friends&quot;" in html
    assert "@harbour&lt;museum&gt;" in html
    assert "<appeal>" not in html and "<museum>" not in html
    # The interval is one look's and unadjusted; the call rests on the adjusted p: both said.
    assert report.comparisons
    assert "for one look; always-valid Holm-adjusted p" in html
    _assert_balanced(html)
    # Many long posts still fit, cut at a line so no tag is split.
    posts = tuple(
        PostReport(i, f"@chat_{i}_" + "x" * 200, "sent", None, 1000, 5, 1, 1, {"EUR": 100},
                   Rate.of(1, 1000))
        for i in range(100)
    )  # fmt: skip
    long = format_telegram_html(dataclasses.replace(report, posts=posts))
    assert utf16_length(long) <= MESSAGE_MAX_UTF16
    assert long.endswith("use the CLI for the full report)")
    _assert_balanced(long)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.seen: set[str] = set()
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("data:"):
                self.external.append(value)
        if tag not in {"meta", "img", "br", "link"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def _assert_balanced(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert parser.open == []
    return parser


async def test_web_page_is_self_contained_and_escaped(report: Report) -> None:
    png = report_chart(report)
    page = format_html_page(report, png)
    tags = _assert_balanced(page.replace("<!doctype html>", ""))
    assert tags.external == []  # no stylesheet, script or image from anywhere else
    assert "style" in tags.seen and "table" in tags.seen and "img" in tags.seen
    assert "data:image/png;base64," in page
    assert "Spring &lt;appeal&gt;" in page and "<appeal>" not in page
    assert "Bad Request: &lt;b&gt;chat&lt;/b&gt; not found" in page and NOT_FOUND not in page
    assert "observational" in page and "randomised" in page
    without_chart = format_html_page(report, None)
    assert "<img" not in without_chart


async def test_chart_is_a_png(report: Report) -> None:
    image = Image.open(io.BytesIO(report_chart(report)))
    image.load()
    assert image.format == "PNG" and image.width > 600
    times = [point.donated_at for point in report.timeline]
    assert times == sorted(times)
    sources = {point.source for point in report.timeline}
    assert {"specific", "broadcast", "holdout"} <= sources
    assert any(source.startswith("post:") for source in sources)


def test_cli_writes_json_html_and_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    async def seed() -> None:
        engine = make_engine(url)
        await create_all(engine)
        try:
            await seed_spring(session_maker(engine))
        finally:
            await engine.dispose()

    asyncio.run(seed())
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "spring.yaml").write_text(dump_campaign(spring_spec()), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no stray .env
    env = {"DATABASE_URL": url, "CAMPAIGNS_DIR": str(campaigns)}
    runner = CliRunner()

    result = runner.invoke(
        app,
        ["report", "spring-appeal", "--format", "json", "--out", "r.json", "--chart", "c.png"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["campaign"]["name"] == "spring-appeal" and doc["arms"][0]["donors"] == 3
    Image.open(tmp_path / "c.png").verify()

    result = runner.invoke(app, ["report", "spring-appeal", "-f", "html", "-o", "r.html"], env=env)
    assert result.exit_code == 0, result.output
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text(encoding="utf-8")

    result = runner.invoke(app, ["report", "spring-appeal"], env=env)
    assert result.exit_code == 0 and "FUNNEL PER ARM" in result.output

    result = runner.invoke(app, ["report", "nothing-here"], env=env)
    assert result.exit_code == 2 and "No campaign called 'nothing-here'" in result.output

    # BASELINE_DONATION_RATE tunes the report's sequences and the preview's power line.
    planned = {**env, "BASELINE_DONATION_RATE": "0.08"}
    result = runner.invoke(
        app, ["report", "spring-appeal", "-f", "json", "-o", "b.json"], env=planned
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert (doc["baseline_donation_rate"], doc["baseline_source"]) == (0.08, "setting")
    result = runner.invoke(app, ["preview", "spring-appeal"], env=planned)
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())  # the console wraps long lines
    assert "Power: " in words and "8.0% (setting)" in words


async def test_the_referrals_section_and_each_arms_way_show_in_text_json_and_html(
    report: Report,
) -> None:
    text = format_text(report)
    assert "REFERRALS (peer-to-peer credit" in text
    assert re.search(r"^Via\s+private\s+private", text, re.M)
    page = format_html_page(report, b"")
    assert "<h2>Referrals</h2>" in page
    [referral] = to_json(report)["referrals"]
    assert (referral["starts"], referral["re_engaged"]) == (0, 1)
    # Gifts made before they were brought in are no one's peer credit.
    assert (referral["donors"], referral["amounts"]) == (0, {})


async def test_public_and_private_arms_are_said_to_compare_only_where_both_could_reach(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_spring(sqlite_sessions)
    spec = spring_spec()
    public = spec.model_copy(
        update={
            "arms": {
                name: arm.model_copy(update={"via": "group_reply"}) if name == "broadcast" else arm
                for name, arm in spec.arms.items()
            }
        }
    )
    built = await build_report(sqlite_sessions, public, now=NOW)
    assert [arm.via for arm in built.arms if arm.name == "broadcast"] == ["group_reply"]
    assert any("eligible for both" in note for note in built.notes)
    plain = await build_report(sqlite_sessions, spec, now=NOW)
    assert not any("eligible for both" in note for note in plain.notes)


def _arms_as(spec: Campaign, **changes: dict[str, str]) -> Campaign:
    """Return the campaign with some arms' fields changed (arm name -> {field: value})."""
    arms = {
        name: arm.model_copy(update=changes[name]) if name in changes else arm
        for name, arm in spec.arms.items()
    }
    return spec.model_copy(update={"arms": arms})


async def test_a_public_reply_arm_is_tested_against_a_private_one_of_the_same_kind(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_spring(sqlite_sessions)
    # Both arms personal asks; one made in public, one in private: the comparison #13 asks for.
    public = _arms_as(spring_spec(), broadcast={"kind": "specific", "via": "group_reply"})
    built = await build_report(sqlite_sessions, public, now=NOW)
    tested = {(c.metric, c.arm_a, c.arm_b) for c in built.comparisons}
    asked = {("gave_in_period", arm, "holdout") for arm in ("specific", "broadcast")}
    assert tested == asked | {(m, "broadcast", "specific") for m in ("donation", "click", "reply")}
    assert [(r.arm_a, r.arm_b) for r in built.revenue] == [("broadcast", "specific")]
    # Two private personal asks: only the holdout comparisons remain.
    private = _arms_as(spring_spec(), broadcast={"kind": "specific"})
    same = await build_report(sqlite_sessions, private, now=NOW)
    assert {(c.metric, c.arm_a, c.arm_b) for c in same.comparisons} == asked
    assert same.revenue == ()
    # Without the holdout there is no pair the report tests, and it says so rather than
    # blaming the recipients.
    alone = dataclasses.replace(
        same, arms=tuple(a for a in same.arms if not a.is_holdout), comparisons=()
    )
    assert "Nothing to compare: the report tests specific against broadcast-style" in (
        format_text(alone)
    )
