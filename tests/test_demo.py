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
from bot.demo.followers import BOUGHT, BOUGHT_WHO_START, PROMO, follower_ids
from bot.demo.referrals import FRIENDS, FRIENDS_GIFT_MINOR, REFERRAL_LINK
from bot.demo.runner import CAMPAIGN, COMMUNITY_CAMPAIGN, Demo, DemoResult
from bot.demo.stage import GROUP_ID, GROUP_TITLE
from bot.domain.community import read_message

ROOT = Path(__file__).resolve().parents[1]
TOKEN_IN_LINK = re.compile(r"/r/([A-Za-z0-9_-]+)")
PUBLIC_PAYLOAD = re.compile(r"\?start=a-([A-Za-z0-9_-]+)")
# Referral codes and ask tokens are random by design (secrets).
RANDOM_PAYLOAD = re.compile(r"(?<![\w-])[ar]-[A-Za-z0-9_-]+")

pytestmark = pytest.mark.slow


# What each run printed as it went, by its output folder's name.
SAID: dict[str, list[str]] = {}


async def _run(tmp_path: Path, name: str, seed: int = 3) -> DemoResult:
    said = SAID.setdefault(name, [])
    demo = Demo(supporters=120, seed=seed, out=tmp_path / name, progress=said.append)
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
        "JOIN campaign ON campaign.id = first.campaign_id WHERE campaign.name = ? "
        "GROUP BY first.arm",
        CAMPAIGN,
    )
    assert {arm: arms[arm]["donors"] for arm in arms if arms[arm]["donors"]} == dict(donors)
    assert sum(arm["sent"] for arm in arms.values()) > 50


def test_every_sent_ask_reached_telegram_exactly_once(demo_run: DemoResult) -> None:
    sent = "SELECT token FROM ask WHERE state = 'sent' AND chat_id {} 0"
    private = {token for (token,) in _query(demo_run, sent.format(">"))}
    public = {token for (token,) in _query(demo_run, sent.format("<"))}
    tokens = _tokens_sent_to_supporters(demo_run)
    # A public ask reaches its member privately only when they open its button.
    assert private <= set(tokens) <= private | public
    assert max(tokens.values()) == 1
    in_group: Counter[str] = Counter()
    for entry in demo_run.telegram_record:
        if entry["method"] == "sendMessage" and int(entry["chat_id"]) == GROUP_ID:
            in_group.update(PUBLIC_PAYLOAD.findall(json.dumps(entry.get("reply_markup") or {})))
    assert set(in_group) == public and max(in_group.values()) == 1
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
    asked = (
        "SELECT DISTINCT supporter_id FROM ask JOIN campaign ON campaign.id = ask.campaign_id "
        "WHERE campaign.name = ? AND step = 'ask'"
    )
    (total,) = _query(demo_run, f"SELECT count(*) FROM ({asked})", CAMPAIGN)[0]
    in_group = _query(
        demo_run,
        f"SELECT count(*) FROM ({asked}) WHERE supporter_id IN "
        "(SELECT supporter_id FROM interaction WHERE source = ?)",
        CAMPAIGN,
        GROUP_TITLE,
    )[0][0]
    only_group = _query(
        demo_run,
        f"SELECT count(*) FROM ({asked}) AS a JOIN supporter ON supporter.id = a.supporter_id "
        "WHERE supporter.external_id IS NULL",
        CAMPAIGN,
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
    # Ask tokens and referral codes are random, but the community report folds them into one
    # row per family, so it is the same run after run.
    community = [run.files["community"].read_text() for run in (again, demo_run)]
    assert community[0] == community[1]
    assert not RANDOM_PAYLOAD.search(community[0])
    assert "deep link public-reply buttons (a-…)" in community[0]
    assert "deep link referral links (r-…)" in community[0]


def test_the_public_reply_arm_runs_and_shows_beside_the_private_arms(demo_run: DemoResult) -> None:
    arms = {arm["name"]: arm for arm in demo_run.reports[COMMUNITY_CAMPAIGN]["arms"]}
    assert (arms["public"]["via"], arms["private"]["via"]) == ("group_reply", "private")
    # Every public ask sent is a reply in the group with a button that opens it privately.
    replies = [
        entry
        for entry in demo_run.telegram_record
        if entry["method"] == "sendMessage"
        and int(entry["chat_id"]) == GROUP_ID
        and "?start=a-" in json.dumps(entry.get("reply_markup") or {})
    ]
    assert len(replies) == arms["public"]["sent"] > 0
    # Some mentioned members opened it: their private ask carries the public ask's own link.
    public = {
        token
        for (token,) in _query(
            demo_run,
            "SELECT token FROM ask JOIN campaign ON campaign.id = ask.campaign_id "
            "WHERE campaign.name = ? AND arm = 'public' AND ask.state = 'sent'",
            COMMUNITY_CAMPAIGN,
        )
    }
    assert set(_tokens_sent_to_supporters(demo_run)) & public
    # report.txt: the appeal's private arms and channel post, then the public arm with its via.
    text = demo_run.files["report"].read_text()
    appeal, community = text.split(f"({COMMUNITY_CAMPAIGN})")
    assert "@harbourmuseum" in appeal and "Via " in appeal
    via = next(line for line in community.splitlines() if line.startswith("Via "))
    assert via.split() == ["Via", "group_reply", "private"]
    assert "compared only within the population eligible for both" in " ".join(text.split())
    said = " ".join(SAID["first"])
    assert "randomised only among the supporters eligible both ways" in said


def test_referrals_bring_friends_and_the_report_shows_them(demo_run: DemoResult) -> None:
    rows = demo_run.reports[COMMUNITY_CAMPAIGN]["referrals"]
    assert sum(row["starts"] for row in rows) == sum(FRIENDS)
    assert sum(row["donors"] for row in rows) == 1
    assert sum(row["amounts"].get("EUR", 0) for row in rows) == FRIENDS_GIFT_MINOR
    text = demo_run.files["report"].read_text()
    assert text.count("REFERRALS") == 1
    section = text.split("REFERRALS")[1].split("\n\n")[0].splitlines()
    assert len(section) == 2 + len(rows)  # title, header, one line per referrer
    # Each sharer got their link once (by the thank-you's button or by /share).
    links = [e for e in demo_run.telegram_record if REFERRAL_LINK.search(e["text"] or "")]
    assert len({int(e["chat_id"]) for e in links}) == len(links) == len(rows)


def test_bought_followers_are_flagged_worthless_and_never_asked(demo_run: DemoResult) -> None:
    report = json.loads(demo_run.files["community_json"].read_text())
    sources = {(row["kind"], row["name"]): row for row in report["sources"]}
    promo = sources[("invite link", PROMO)]
    assert (promo["joined"], promo["flagged"]) == (BOUGHT, BOUGHT)
    assert (promo["active_30_days_after"], promo["donors"], promo["amounts"]) == (0, 0, {})
    poster = sources[("invite link", SOURCE)]
    assert poster["flagged"] == 0 and poster["active_30_days_after"] > 0
    assert poster["donors"] > 0 and poster["amounts"]["EUR"] > 0
    assert report["flagged"]["burst_join"] == BOUGHT
    text = demo_run.files["community"].read_text()
    assert f"invite link {PROMO}: {BOUGHT}, {BOUGHT}, 0, 0, {BOUGHT}; per member none" in text
    with Image.open(demo_run.files["community_chart"]) as chart:
        assert chart.format == "PNG"
    # Left out of every audience, and said so as /preview says it.
    asked = _query(
        demo_run,
        "SELECT count(*) FROM ask JOIN supporter ON supporter.id = ask.supporter_id "
        "WHERE supporter.telegram_user_id BETWEEN ? AND ?",
        min(follower_ids()),
        max(follower_ids()),
    )
    assert asked == [(0,)]
    said = SAID["first"]
    left_out = f"Left out as flagged: {BOUGHT_WHO_START} (burst_join {BOUGHT_WHO_START})"
    assert any(left_out in line for line in said)
    assert any(f"'{PROMO}': {BOUGHT} joined, {BOUGHT} flagged, 0 active" in line for line in said)
