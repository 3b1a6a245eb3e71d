"""The demo runs a whole campaign, and its report agrees with the database and with Telegram."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from bot.demo.behaviour import COMMENTS, QUESTIONS
from bot.demo.community import SOURCE, SOURCE_COMMAND
from bot.demo.runner import CAMPAIGN, Demo, DemoResult
from bot.demo.stage import GROUP_TITLE
from bot.domain.community import read_message

ROOT = Path(__file__).resolve().parents[1]
TOKEN_IN_LINK = re.compile(r"/r/([A-Za-z0-9_-]+)")

pytestmark = pytest.mark.slow


async def _run(tmp_path: Path, name: str, seed: int = 3) -> DemoResult:
    demo = Demo(supporters=120, seed=seed, out=tmp_path / name, progress=lambda _line: None)
    return await demo.run(ROOT / "campaigns")


def _query(result: DemoResult, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(result.out / "demo.db") as db:
        return db.execute(sql, args).fetchall()


def _tokens_sent_to_supporters(result: DemoResult) -> Counter[str]:
    tokens: Counter[str] = Counter()
    for entry in result.telegram_record:
        if entry["method"] == "sendMessage" and int(entry["chat_id"]) > 0:
            found = set(TOKEN_IN_LINK.findall(json.dumps(entry.get("reply_markup") or {})))
            tokens.update(found)
    return tokens


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """Run the demo once for the module (it runs its own event loop, as the CLI does)."""
    return asyncio.run(_run(tmp_path_factory.mktemp("demo"), "first"))


def test_report_counts_match_an_independent_count_in_the_database(
    demo_run: DemoResult,
) -> None:
    arms = {arm["name"]: arm for arm in demo_run.report["arms"]}
    rows = _query(
        demo_run,
        "SELECT arm, count(*) FROM ask JOIN campaign ON campaign.id = ask.campaign_id "
        "WHERE campaign.name = ? AND step = 'ask' AND ask.state = 'sent' GROUP BY arm",
        CAMPAIGN,
    )
    assert {arm: arms[arm]["sent"] for arm in arms if arms[arm]["sent"]} == dict(rows)
    donors = _query(
        demo_run,
        "SELECT first.arm, count(DISTINCT first.supporter_id) FROM donation "
        "JOIN ask AS credited ON credited.id = donation.ask_id "
        "JOIN ask AS first ON first.supporter_id = credited.supporter_id "
        "AND first.campaign_id = credited.campaign_id AND first.step = 'ask' "
        "GROUP BY first.arm",
    )
    assert {arm: arms[arm]["donors"] for arm in arms if arms[arm]["donors"]} == dict(donors)
    assert sum(arm["sent"] for arm in arms.values()) > 50


def test_every_sent_ask_reached_telegram_exactly_once(demo_run: DemoResult) -> None:
    sent = {token for (token,) in _query(demo_run, "SELECT token FROM ask WHERE state = 'sent'")}
    tokens = _tokens_sent_to_supporters(demo_run)
    assert set(tokens) == sent
    assert max(tokens.values()) == 1
    unfinished = _query(demo_run, "SELECT count(*) FROM ask WHERE state = 'sending'")
    assert unfinished == [(0,)]


def test_demo_writes_the_report_chart_and_transcript(demo_run: DemoResult) -> None:
    files = demo_run.files
    assert "<html" in files["html"].read_text()
    with Image.open(files["chart"]) as chart:
        assert chart.format == "PNG"
    transcript = files["transcript"].read_text()
    assert f"/launch {CAMPAIGN}" in transcript and "Weekly summary" in transcript
    # The desk: the inbox, and a saved answer sent from the buttons under a relayed question.
    assert "/inbox" in transcript and "Inbox:" in transcript
    assert "[presses 💬 where-money-goes under" in transcript
    assert "✍️ Answer | ✓ Done | ⛔ Stop | 🪪 Who | 💬 where-money-goes" in transcript
    # The supporter with markup in their name is shown escaped, never as markup.
    relays = [e["text"] for e in demo_run.telegram_record if "&lt;b&gt;Eve" in (e["text"] or "")]
    assert all("<b>Eve</b>" not in text for text in relays)


def test_the_community_talks_and_the_bot_records_facts_not_text(demo_run: DemoResult) -> None:
    kinds = dict(
        _query(
            demo_run,
            "SELECT kind, count(*) FROM interaction WHERE source = ? GROUP BY kind",
            GROUP_TITLE,
        )
    )
    assert {"comment", "question", "question_answered", "reaction", "joined"} <= set(kinds)
    # Staff answered every question in the group, and each counts once.
    assert kinds["question_answered"] == kinds["question"] > 0
    sentiments = _query(
        demo_run,
        "SELECT DISTINCT sentiment FROM interaction WHERE source = ? AND kind = 'comment'",
        GROUP_TITLE,
    )
    assert {s for (s,) in sentiments} == {"positive", "negative", "neutral"}
    topics = _query(
        demo_run,
        "SELECT DISTINCT detail FROM interaction WHERE source = ? AND kind = 'comment'",
        GROUP_TITLE,
    )
    assert ("ShipsInBottles",) in topics
    # Each join through the poster's invite link adds its kind once; /sources counts them.
    joined = _query(
        demo_run,
        "SELECT count(DISTINCT supporter_id) FROM interaction "
        "WHERE kind = 'joined' AND detail = ? AND source = ?",
        SOURCE,
        GROUP_TITLE,
    )[0][0]
    visited = _query(
        demo_run,
        "SELECT count(*), count(DISTINCT supporter_id) FROM interaction "
        "WHERE kind = 'visited_exhibition' AND source = ?",
        f"source:{SOURCE}",
    )
    assert visited == [(joined, joined)] and isinstance(joined, int) and joined > 0
    started = _query(
        demo_run,
        "SELECT count(DISTINCT supporter_id) FROM interaction WHERE kind = 'start' AND detail = ?",
        SOURCE,
    )[0][0]
    transcript = demo_run.files["transcript"].read_text()
    assert f"{SOURCE}: {started} started, {joined} joined" in transcript
    # No member's words are kept anywhere in the database.
    said = [t for by in COMMENTS.values() for ts in by.values() for t in ts]
    said += [t for ts in QUESTIONS.values() for t in ts]
    database = (demo_run.out / "demo.db").read_bytes()
    assert not [t for t in said if t.encode() in database]


def test_part_of_the_audience_was_found_in_the_community(demo_run: DemoResult) -> None:
    asked = "SELECT DISTINCT supporter_id FROM ask WHERE step = 'ask'"
    (total,) = _query(demo_run, f"SELECT count(*) FROM ({asked})")[0]
    in_group = _query(
        demo_run,
        f"SELECT count(*) FROM ({asked}) WHERE supporter_id IN "
        "(SELECT supporter_id FROM interaction WHERE source = ?)",
        GROUP_TITLE,
    )[0][0]
    only_group = _query(
        demo_run,
        f"SELECT count(*) FROM ({asked}) AS a JOIN supporter ON supporter.id = a.supporter_id "
        "WHERE supporter.external_id IS NULL",
    )[0][0]
    assert isinstance(only_group, int) and isinstance(in_group, int)
    assert 0 < only_group <= in_group < total
    line = (
        f"{in_group} of the {total} supporters asked were found in the community group "
        f"({GROUP_TITLE}); {only_group} of them the museum knew only from there"
    )
    assert line in demo_run.report_text
    assert line in demo_run.files["report"].read_text()


def test_the_staff_chat_shows_the_admin_check_and_the_posters_source(
    demo_run: DemoResult,
) -> None:
    transcript = demo_run.files["transcript"].read_text()
    warning = transcript.index(f"Community chat {GROUP_TITLE}")
    fixed = transcript.index(f"[makes the bot an administrator of {GROUP_TITLE}]")
    source = transcript.index(SOURCE_COMMAND)
    assert warning < fixed < source < transcript.index(f"/launch {CAMPAIGN}")
    assert f"[QR code] {SOURCE} (created)" in transcript


@pytest.mark.parametrize(
    ("tone", "text", "language"),
    [(tone, t, lang) for tone, by in COMMENTS.items() for lang, ts in by.items() for t in ts],
)
def test_each_community_comment_reads_as_its_tone(tone: str, text: str, language: str) -> None:
    assert read_message(text, language) == (tone, False)


def test_the_same_seed_gives_the_same_report(demo_run: DemoResult, tmp_path: Path) -> None:
    again = asyncio.run(_run(tmp_path, "again"))
    assert again.report["arms"] == demo_run.report["arms"]
    assert again.report_text == demo_run.report_text
