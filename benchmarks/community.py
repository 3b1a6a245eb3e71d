"""Benchmark: community updates recorded by the running bot, against a bare python-telegram-bot.

Usage: .venv/bin/python benchmarks/community.py [--updates N] [--members M] [--rounds R]
                                                 [--backend sqlite|postgres] [--seed S]

The Bot API sandbox runs in its own process (as Telegram would be elsewhere). In it a museum
channel with its discussion group is set up, and N community updates are made with the
sandbox's own in-process actions (fast, and the same as its HTTP control API would make):
channel posts (some with a hashtag) and their automatic forwards, members' comments and
questions in the threads, replies between members, messages with their own hashtag,
administrators' and staff's answers to questions (several per question), reactions (some
taken back and given again), joins (half through a named invite link) and leaves, answers to
a non-anonymous poll the bot sent, noise that must be ignored (anonymous admins, posts as the
channel), and 1% of the updates delivered a second time. The generator counts the
interactions each should give, by kind, from what it did (the question texts carry their
label; the classifier is checked to agree before the run).

Each round, the same updates are queued and fetched by long polling, with the same defaults:
1. a bare python-telegram-bot Application whose one handler does nothing but count;
2. the bot (`running_bot`, as `campaign-bot run` starts it, listening to the group) on a fresh
   database, until it has recorded the expected number of interactions (or stalls).
Printed: the updates, each side's rate, their ratio (target >= 0.5), and per kind the expected
and recorded interactions with the lost and duplicate ones (target: none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from telegram import Bot, Update
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from benchmarks._data import create_pg_database, drop_pg_database, temp_sqlite_url
from bot.app import running_bot
from bot.config import load_settings, use_timedelta_durations
from bot.domain.community import read_message
from bot.sandbox import groups, polls, posts, reactions
from bot.sandbox.chats import DEFAULT_TOKEN, Chat, User
from bot.sandbox.server import create_app, serve_asgi
from bot.sandbox.state import SandboxState
from bot.services.community import record_poll
from bot.services.registry import CampaignRegistry
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.tables import INTERACTION
from bot.telegram.application import ALLOWED_UPDATES
from bot.telegram.community_state import LISTENING, Listening

CHANNEL, GROUP, STAFF_CHAT = -1002000000001, -1002000000002, -1002000000009
OLGA, CORA, STAFF, HELPER_BOT = 10, 11, 12, 13
FIRST_MEMBER = 1_000_000
POLL_OPTIONS = ["Ships", "Maps", "Clocks"]
# Hand-labelled: (text, is a question). The classifier must agree (checked before the run).
TEXTS = [
    ("What a beautiful exhibition!", False),
    ("Prachtig, wat mooi!", False),
    ("Lovely, thank you so much", False),
    ("Geweldig gedaan 👏", False),
    ("Too expensive, disappointing.", False),
    ("Saai en veel te duur", False),
    ("We came by last Sunday", False),
    ("👍🔥", False),
    ("When does it open on Sunday?", True),
    ("Is the cafe open?", True),
    ("Hoe laat gaan jullie open?", True),
    ("Can I bring my dog?", True),
]
EMOJI = ["👍", "❤", "🔥", "🎉", "👏", "😍", "👎", "💩", "🤔", "😁", "🤯", "👀"]
POLL_TIMEOUT = 1.0


# --- the sandbox, in its own process ---------------------------------------------------------


class Community:
    """The museum's world in the sandbox, and the updates generated in it."""

    def __init__(self, state: SandboxState, members: int) -> None:
        self.state = state
        self.members = [FIRST_MEMBER + i for i in range(members)]
        self.outsiders = [FIRST_MEMBER + members + i for i in range(members // 2)]
        self.generated: list[tuple[str, Any]] = []
        state.set_allowed_updates(list(ALLOWED_UPDATES))
        for user_id, name in ((OLGA, "Olga"), (CORA, "Cora"), (STAFF, "Sam")):
            state.add_user(User(user_id, name))
        state.add_user(User(HELPER_BOT, "Helper", username="helper_bot", is_bot=True))
        for i, user_id in enumerate(self.members + self.outsiders):
            language = "nl" if i % 3 == 0 else "en"
            state.add_user(User(user_id, f"Member {i}", username=f"m{i}", language_code=language))
        groups.add_chat(state, Chat(STAFF_CHAT, "supergroup", "Museum staff"))
        groups.add_chat(state, Chat(CHANNEL, "channel", "Harbour Museum", "harbourmuseum"))
        groups.add_chat(state, Chat(GROUP, "supergroup", "Harbour Museum chat"), owner_id=OLGA)
        groups.link_discussion(state, CHANNEL, GROUP)
        groups.set_member(state, GROUP, CORA, "administrator", is_anonymous=True)
        for user_id in [STAFF, HELPER_BOT, *self.members]:
            groups.set_member(state, GROUP, user_id)

    def generate(self, count: int, seed: int, poll_id: str, link: str) -> dict[str, Any]:
        """Make `count` updates (and 1% again); return how many interactions each kind gives."""
        rng = random.Random(seed)
        state, expected = self.state, Counter[str]()
        state.updates.clear()
        threads: list[int] = []
        said: list[int] = []
        questions: list[int] = []
        answered: set[int] = set()
        reacted: set[tuple[int, int, str]] = set()
        voted: set[int] = set()
        inside: list[int] = []
        outsiders = list(self.outsiders)

        def member_says(reply_to: int | None, topic: str = "") -> None:
            text, question = rng.choice(TEXTS)
            update = posts.post(
                state, GROUP, rng.choice(self.members), text + topic, reply_to_message_id=reply_to
            )
            message_id = update["message"]["message_id"]
            said.append(message_id)
            expected["comment"] += 1
            if question:
                questions.append(message_id)
                expected["question"] += 1

        while len(state.updates) < count:
            r = rng.random()
            if not threads or r < 0.03:
                tag = f" #Topic{rng.randrange(40)}" if rng.random() < 0.75 else ""
                post = posts.channel_post(state, CHANNEL, f"News from the museum{tag}")
                threads.append(
                    state.discussion_posts[(CHANNEL, post["channel_post"]["message_id"])]
                )
            elif r < 0.45:
                member_says(rng.choice(threads[-20:]))
            elif r < 0.52 and said:
                member_says(rng.choice(said[-200:]))
            elif r < 0.56:
                member_says(None, f" #Free{rng.randrange(20)}" if rng.random() < 0.5 else "")
            elif r < 0.60 and questions:
                question = rng.choice(questions[-100:])
                answerer = rng.choice((OLGA, CORA, STAFF))
                posts.post(state, GROUP, answerer, "See our website", reply_to_message_id=question)
                if question not in answered:
                    answered.add(question)
                    expected["question_answered"] += 1
            elif r < 0.62:
                if rng.random() < 0.5:
                    posts.post(state, GROUP, CORA, "Reminder: we open at ten")
                else:
                    user = rng.choice(self.members)
                    posts.post(state, GROUP, user, "Posted as the channel", as_chat_id=CHANNEL)
                posts.post(state, GROUP, HELPER_BOT, "A bot's message nobody hears")
            elif r < 0.88 and said:
                user = rng.choice(self.members)
                target = rng.choice(said[-300:] + threads[-20:])
                if rng.random() < 0.15:
                    reactions.react(state, user, GROUP, target, [])
                    continue
                emoji = rng.choice(EMOJI)
                reactions.react(state, user, GROUP, target, [emoji])
                if (user, target, emoji) not in reacted:
                    reacted.add((user, target, emoji))
                    expected["reaction"] += 1
            elif r < 0.94:
                # Each person joins and leaves at most once: Telegram dates joins to the second.
                if outsiders and (rng.random() < 0.7 or not inside):
                    user = outsiders.pop()
                    through = link if rng.random() < 0.5 else None
                    groups.join(state, GROUP, user, invite_link=through)
                    inside.append(user)
                    expected["joined"] += 1
                elif inside:
                    groups.leave(state, GROUP, inside.pop(rng.randrange(len(inside))))
                    expected["left"] += 1
            else:
                user = rng.choice(self.members)
                if user not in voted:
                    voted.add(user)
                    polls.vote(state, user, poll_id, [rng.randrange(len(POLL_OPTIONS))])
                    expected["poll_answer"] += 1
        made = list(state.updates)
        again = rng.sample(made, len(made) // 100)
        self.generated = [_kind_and_payload(u) for u in made + again]
        state.updates.clear()
        return {"updates": len(self.generated), "again": len(again), "expected": expected}

    def load(self) -> int:
        """Queue the generated updates once more, with fresh update ids."""
        self.state.updates.clear()
        for kind, payload in self.generated:
            self.state.enqueue(kind, payload)
        return len(self.state.updates)


def _kind_and_payload(update: dict[str, Any]) -> tuple[str, Any]:
    kind = next(k for k in update if k != "update_id")
    return kind, update[kind]


async def _serve_sandbox(members: int) -> None:
    state = SandboxState()
    community = Community(state, members)
    async with serve_asgi(create_app(state), "127.0.0.1", 0) as url:
        print(url, flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            command, *args = line.split()
            if command == "generate":
                answer: Any = community.generate(int(args[0]), int(args[1]), args[2], args[3])
            elif command == "load":
                answer = community.load()
            else:
                answer = {"error": f"unknown command {command}"}
            print(json.dumps(answer), flush=True)


class SandboxProcess:
    """The sandbox in a child process, told what to do one line at a time."""

    def __init__(self, members: int) -> None:
        self.args = [sys.executable, __file__, "--serve-sandbox", str(members)]

    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        return self

    async def ask(self, *words: object) -> Any:
        """Send one command and return its JSON answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()
        return json.loads(await asyncio.to_thread(self.proc.stdout.readline))

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait()


# --- the two sides ---------------------------------------------------------------------------


async def bare(sandbox: SandboxProcess, total: int) -> float:
    """Return updates per second through a bare Application with a counting no-op handler."""
    seen = 0
    done = asyncio.Event()

    async def count(update: Update, context: Any) -> None:
        nonlocal seen
        seen += 1
        if seen >= total:
            done.set()

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(DEFAULT_TOKEN).base_url(f"{sandbox.url}/bot").build()
    )
    app.add_handler(TypeHandler(Update, count))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            timeout=timedelta(seconds=POLL_TIMEOUT), allowed_updates=ALLOWED_UPDATES
        )
        await sandbox.ask("load")
        started = time.perf_counter()
        await done.wait()
        elapsed = time.perf_counter() - started
        await app.updater.stop()
        await app.stop()
    return total / elapsed


async def ours(
    sandbox: SandboxProcess, total: int, expected: int, url: str, tmp: Path, poll_id: str
) -> tuple[float, Counter[str], bool]:
    """Run the bot until it has recorded `expected` interactions; return rate, kinds, stalled."""
    engine = make_engine(url)
    await create_all(engine)
    sessions = session_maker(engine)
    await record_poll(
        sessions,
        poll_id=poll_id,
        chat_id=GROUP,
        message_id=1,
        source="Harbour Museum chat",
        question="Which next?",
        options=POLL_OPTIONS,
        now=datetime.now(UTC),
    )
    (tmp / "campaigns").mkdir(exist_ok=True)
    settings = load_settings(
        {
            "telegram_bot_token": DEFAULT_TOKEN,
            "telegram_base_url": f"{sandbox.url}/bot",
            "database_url": url,
            "staff_user_ids": str(STAFF),
            "staff_chat_id": STAFF_CHAT,
            "community_chat_ids": str(GROUP),
            "campaigns_dir": str(tmp / "campaigns"),
            "log_level": "WARNING",
        },
        env_file=None,
    )
    registry = CampaignRegistry(settings.campaigns_dir)
    stalled = False
    async with running_bot(
        settings, sessions, registry=registry, serve_web=False, poll_timeout=POLL_TIMEOUT
    ) as runtime:
        listening: Listening = runtime.application.bot_data[LISTENING]
        recorder = listening.recorder
        await sandbox.ask("load")
        started = time.perf_counter()
        last, last_change = 0, started
        while recorder.recorded < expected:
            await asyncio.sleep(0.005)
            if recorder.recorded != last:
                last, last_change = recorder.recorded, time.perf_counter()
            elif time.perf_counter() - last_change > 15:
                stalled = True
                break
        elapsed = time.perf_counter() - started
        # Anything recorded beyond the expected count would show as duplicates below.
        await asyncio.sleep(1.0)
        await recorder.idle()
    async with sessions() as session:
        rows = await session.execute(
            select(INTERACTION.c.kind, func.count()).group_by(INTERACTION.c.kind)
        )
        kinds = Counter({str(kind): int(n) for kind, n in rows})
    await engine.dispose()
    return total / elapsed, kinds, stalled


async def main(args: argparse.Namespace) -> None:
    use_timedelta_durations()
    wrong = [text for text, question in TEXTS if read_message(text, None)[1] != question]
    if wrong:
        sys.exit(f"the classifier disagrees with the benchmark's labels: {wrong}")
    with tempfile.TemporaryDirectory() as folder, SandboxProcess(args.members) as sandbox:
        tmp = Path(folder)
        async with Bot(DEFAULT_TOKEN, base_url=f"{sandbox.url}/bot") as bot:
            sent = await bot.send_poll(GROUP, "Which next?", POLL_OPTIONS, is_anonymous=False)
            link = await bot.create_chat_invite_link(GROUP, name="expo-ships")
        assert sent.poll is not None
        made = await sandbox.ask(
            "generate", args.updates, args.seed, sent.poll.id, link.invite_link
        )
        total, expected = made["updates"], Counter(made["expected"])
        print(
            f"{total} updates ({made['again']} of them delivered twice), {args.members} members, "
            f"backend {args.backend}; expected interactions: {sum(expected.values())}"
        )
        bare_rates, our_rates = [], []
        for round_number in range(1, args.rounds + 1):
            bare_rate = await bare(sandbox, total)
            url = temp_sqlite_url(tmp) if args.backend == "sqlite" else await create_pg_database()
            try:
                rate, kinds, stalled = await ours(
                    sandbox, total, sum(expected.values()), url, tmp, sent.poll.id
                )
            finally:
                if args.backend == "postgres":
                    await drop_pg_database(url)
            bare_rates.append(bare_rate)
            our_rates.append(rate)
            lost = sum(max(0, expected[k] - kinds[k]) for k in expected | kinds)
            extra = sum(max(0, kinds[k] - expected[k]) for k in expected | kinds)
            print(
                f"round {round_number}: bare PTB {bare_rate:7.0f} updates/s, bot "
                f"{rate:7.0f} updates/s ({rate / bare_rate:.2f}x); lost {lost}, "
                f"duplicates {extra}{', STALLED' if stalled else ''}"
            )
            for kind in sorted(expected | kinds):
                print(f"   {kind:18} expected {expected[kind]:7}  recorded {kinds[kind]:7}")
        ratio = statistics.median(our_rates) / statistics.median(bare_rates)
        print(
            f"median: bare {statistics.median(bare_rates):.0f}/s, bot "
            f"{statistics.median(our_rates):.0f}/s, ratio {ratio:.2f} (target >= 0.5)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-sandbox":
        asyncio.run(_serve_sandbox(int(sys.argv[2])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000, help="community updates")
    parser.add_argument("--members", type=int, default=2000, help="members of the group")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both sides")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=12)
    asyncio.run(main(parser.parse_args()))
