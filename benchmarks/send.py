"""Benchmark: how fast the outbox sends, measured against a bare python-telegram-bot loop.

Usage: .venv/bin/python benchmarks/send.py [--messages N] [--minute S] [--backend sqlite|postgres]
                                            [--parts 1,2,3] [--concurrency C] [--rounds R]
                                            [--profile FILE]

The Bot API sandbox runs in its own process (as Telegram would be elsewhere), with its users
made in-process so setting up thousands of chats costs nothing. Printed, all from this run:

1. Limits off: the whole pipeline (launch: select the audience, assign arms, write the asks;
   then claim, render, send with buttons, record) against a bare `Bot.send_message` loop with
   the same HTTPXRequest settings and the same C sends in flight to the same sandbox; R
   rounds of both (in turn first), the ratio of the medians as the headline (this shared
   machine's speed drifts by a fifth within minutes, so one run of each could mislead), and
   each side's CPU time per message: this process (time.process_time, which counts the
   aiosqlite thread too), the sandbox process, and on PostgreSQL the server processes that
   served the pipeline's connections. `--profile FILE` writes a cProfile of the last
   pipeline run.
2. Limits on (30/s, 1/s per chat): the pipeline for `--minute` seconds; the achieved rate as a
   share of 30/s and the number of 429 answers.
3. No HTTP: the limiter alone at 1000/s with a counting sender; then the pipeline with a
   counting sender (database, rendering, limiter) in 1 and 2 processes on the chosen backend,
   and from these and part 1 the worker processes a 1000/s paid-broadcast limit needs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.constants import ParseMode
from telegram.request import HTTPXRequest

from bot.config import Settings, load_settings
from bot.domain.ask_rules import ask_buttons
from bot.domain.limits import LimitSettings, SendLimiter
from bot.domain.sending import Button, Result, SendOutcome
from bot.domain.spec import Campaign
from bot.sandbox.chats import DEFAULT_TOKEN, User
from bot.sandbox.limits import Limits
from bot.sandbox.server import create_app, serve_asgi
from bot.sandbox.state import SandboxState
from bot.services.launch import launch_campaign
from bot.services.outbox import OutboxWorker
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.models import PENDING, SENDING, Ask, Interaction, Supporter
from bot.telegram.sender import TelegramSender, keyboard

PG_ADMIN_DSN = os.environ.get("CAMPAIGN_BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
FIRST_CHAT = 5_000_000
ALWAYS_OPEN = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": "00:00-24:00"}
SPEC: dict[str, Any] = {
    "name": "bench-send",
    "title": "Keep the museum open",
    "organisation": "Harbour Museum",
    "donate_url": "https://donate.example.org/harbour",
    "timezone": "Europe/Amsterdam",
    "send_window": ALWAYS_OPEN,
    "arms": {"specific": {"kind": "specific", "weight": 1, "message": "personal"}},
    "messages": {
        "personal": {
            "en": "Dear {{ name }},\n{% if last.visited_exhibition %}In "
            "{{ last.visited_exhibition.month }} you came to see <i>"
            "{{ last.visited_exhibition.detail }}</i>.{% endif %}\nThe museum loses its funding "
            "on 1 January. Would you help keep it open?\n"
            '<a href="{{ donate_link }}">Help keep the museum open</a>\nThank you, Marieke'
        }
    },
}
BARE_TEXT = (
    "Dear Alexandra,\nIn October you came to see <i>Ships of the North</i>.\nThe museum loses "
    "its funding on 1 January. Would you help keep it open?\n"
    '<a href="https://bot.example.org/r/abcdefghijklmnop">Help keep the museum open</a>\n'
    "Thank you, Marieke"
)


# --- the sandbox, in its own process ---------------------------------------------------------


async def _serve_sandbox(users: int, limits_on: bool) -> None:
    state = SandboxState(limits=Limits(enabled=limits_on))
    for i in range(users):
        state.add_user(User(FIRST_CHAT + i, f"Supporter {i}", started=True))
    async with serve_asgi(create_app(state), "127.0.0.1", 0) as url:
        print(url, flush=True)
        await asyncio.Event().wait()


class SandboxProcess:
    """A sandbox in a child process: `with SandboxProcess(users, limits_on) as sandbox:`."""

    def __init__(self, users: int, limits_on: bool) -> None:
        self.args = [sys.executable, __file__, "--serve-sandbox", str(users)]
        if limits_on:
            self.args.append("--limits-on")

    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait()

    def cpu(self) -> float:
        """Return the CPU seconds the sandbox process has used so far."""
        return process_cpu(self.proc.pid)


def process_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) another process has used, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat (utime, stime), counted after the ")" that ends the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def server_cpu(sessions: async_sessionmaker[AsyncSession]) -> float:
    """Return the CPU seconds PostgreSQL's processes for this database have used (0 on SQLite)."""
    async with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            return 0.0
        pids = (
            await session.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        ).scalars()
        return sum(process_cpu(int(pid)) for pid in pids)


# --- data ------------------------------------------------------------------------------------


async def database(backend: str, tmp: Path) -> tuple[str, Any]:
    """Create an empty database with every table; return its URL and a drop function."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'send-{uuid.uuid4().hex[:6]}.db'}"
        drop = None
    else:
        name = f"bench_send_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = (
            PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
            + "/"
            + name
        )

        async def drop_pg() -> None:
            c = await asyncpg.connect(PG_ADMIN_DSN)
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await c.close()

        drop = drop_pg
    engine = make_engine(url)
    await create_all(engine)
    await engine.dispose()
    return url, drop


async def seed(sessions: async_sessionmaker[AsyncSession], first: int, count: int) -> None:
    """Store `count` reachable supporters with one exhibition visit each."""
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        start = int(await session.scalar(select(func.coalesce(func.max(Supporter.id), 0))) or 0)  # type: ignore[arg-type]
        await session.execute(
            insert(Supporter),
            [
                {
                    "id": start + i + 1,
                    "telegram_user_id": first + i,
                    "chat_id": first + i,
                    "first_name": f"Supporter{i}",
                    "language": "en",
                    "consented_at": now - timedelta(days=30),
                    "created_at": now - timedelta(days=60),
                }
                for i in range(count)
            ],
        )
        await session.execute(
            insert(Interaction),
            [
                {
                    "supporter_id": start + i + 1,
                    "kind": "visited_exhibition",
                    "detail": "Ships of the North",
                    "occurred_at": now - timedelta(days=40 + i % 30),
                }
                for i in range(count)
            ],
        )


async def make_due(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Ask).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))


async def open_asks(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Ask).where(Ask.state.in_([PENDING, SENDING]))  # type: ignore[attr-defined]
        return int(await session.scalar(stmt) or 0)


def settings_for(url: str, sandbox_url: str, rate: float) -> Settings:
    return load_settings(
        {
            "telegram_bot_token": DEFAULT_TOKEN,
            "telegram_base_url": sandbox_url + "/bot",
            "database_url": url,
            "public_base_url": "https://bot.example.org",
            "send_rate_per_second": rate,
            "frequency_cap_days": 0,
        },
        env_file=None,
    )


async def run_until_sent(
    worker: OutboxWorker, sessions: async_sessionmaker[AsyncSession], expected: int = 0
) -> None:
    """Run a worker until no ask is pending or sending, then stop it.

    With `expected`, the database is asked only once the worker has sent that many: a count
    every 50 ms would otherwise be charged to the pipeline's CPU, which the bare loop is not.
    """
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    ticks = 0
    while worker.stats["sent"] < expected and not task.done():
        await asyncio.sleep(0.01)
        ticks += 1
        if ticks % 100 == 0 and not await open_asks(sessions):
            break  # some were not sent (failed, skipped): nothing is left to wait for
    while await open_asks(sessions):  # noqa: ASYNC110 (another process's work: poll it)
        await asyncio.sleep(0.01 if expected else 0.05)
    stop.set()
    await task


# --- part 1: pipeline vs bare loop -----------------------------------------------------------


def http_request(pool: int) -> HTTPXRequest:
    """The HTTP settings both the bare loop and the sender use."""
    return HTTPXRequest(
        connection_pool_size=pool,
        read_timeout=10.0,
        write_timeout=10.0,
        connect_timeout=5.0,
        pool_timeout=5.0,
    )


async def bare_loop(
    sandbox_url: str, first: int, count: int, concurrency: int, pool: int
) -> tuple[float, float]:
    """Send `count` messages with Bot.send_message, `concurrency` at a time.

    Return (messages per second, this process's CPU seconds).
    """
    bot = Bot(DEFAULT_TOKEN, base_url=sandbox_url + "/bot", request=http_request(pool))
    markup = keyboard(ask_buttons("abcdefghijklmnop", "https://bot.example.org/r/x", "en"))
    async with bot:
        chats = iter(range(first, first + count))

        async def lane() -> None:
            for chat in chats:
                await bot.send_message(
                    chat, BARE_TEXT, parse_mode=ParseMode.HTML, reply_markup=markup
                )

        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return count / (time.perf_counter() - started), time.process_time() - cpu


@dataclass
class PipelineRun:
    """One pipeline run: its rates, this process's and the database server's CPU seconds."""

    whole: float
    sending: float
    cpu: float
    launch_cpu: float
    server_cpu: float
    stats: dict[str, int]


async def pipeline(
    url: str,
    sandbox_url: str,
    first: int,
    count: int,
    concurrency: int,
    rate: float = 1e6,
    profile: cProfile.Profile | None = None,
) -> PipelineRun:
    """Seed, launch and send `count` asks; time the launch and the sending."""
    engine = make_engine(url)
    sessions = session_maker(engine)
    settings = settings_for(url, sandbox_url, rate)
    await seed(sessions, first, count)
    campaign = Campaign.model_validate({**SPEC, "name": f"bench-{uuid.uuid4().hex[:6]}"})
    async with TelegramSender.from_settings(settings, pool_size=concurrency) as sender:
        server = await server_cpu(sessions)
        cpu = time.process_time()
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        await launch_campaign(sessions, campaign, now=datetime.now(UTC), settings=settings)
        await make_due(sessions)
        sending = time.perf_counter()
        launch_cpu = time.process_time() - cpu
        worker = OutboxWorker(sessions, sender, settings, concurrency=concurrency)
        await run_until_sent(worker, sessions, expected=count)
        done = time.perf_counter()
        if profile is not None:
            profile.disable()
        cpu = time.process_time() - cpu
        server = await server_cpu(sessions) - server
    await engine.dispose()
    return PipelineRun(
        count / (done - started),
        count / (done - sending),
        cpu,
        launch_cpu,
        server,
        dict(worker.stats),
    )


def _ms(seconds: float, count: int) -> str:
    return f"{1000 * seconds / count:.2f} ms"


async def part_one(
    backend: str, tmp: Path, count: int, concurrency: int, rounds: int, profile_to: str | None
) -> float:
    print(
        f"\n1. limits off, {count} messages per run, {concurrency} in flight, {backend}, "
        f"{rounds} rounds of a bare loop and the pipeline (in turn first)"
    )
    bares: list[float] = []
    wholes: list[float] = []
    sendings: list[float] = []
    cpu: dict[str, list[float]] = {
        "bare": [], "bare sandbox": [], "pipeline": [], "pipeline sandbox": [], "server": []
    }  # fmt: skip
    # Counted in CPU time: on this shared machine wall time mostly measures the neighbours.
    profile = cProfile.Profile(time.process_time) if profile_to else None
    runs = 2 * rounds
    with SandboxProcess(runs * count + 200, limits_on=False) as sandbox:
        sandbox_url = sandbox.url
        await bare_loop(sandbox_url, FIRST_CHAT + runs * count, 200, concurrency, concurrency)

        async def bare(first: int) -> None:
            before = sandbox.cpu()
            rate, used = await bare_loop(sandbox_url, first, count, concurrency, concurrency)
            cpu["bare sandbox"].append(sandbox.cpu() - before)
            cpu["bare"].append(used)
            bares.append(rate)

        async def ours(first: int, last: bool) -> None:
            url, drop = await database(backend, tmp)
            try:
                before = sandbox.cpu()
                run = await pipeline(
                    url, sandbox_url, first, count, concurrency, profile=profile if last else None
                )
                cpu["pipeline sandbox"].append(sandbox.cpu() - before)
            finally:
                if drop:
                    await drop()
            wholes.append(run.whole)
            sendings.append(run.sending)
            cpu["pipeline"].append(run.cpu)
            cpu["server"].append(run.server_cpu)
            if run.stats.get("sent") != count:
                print(f"   !! the pipeline sent {run.stats.get('sent')} of {count}: {run.stats}")

        for r in range(rounds):
            first = FIRST_CHAT + 2 * r * count
            if r % 2:
                await ours(first + count, r == rounds - 1)
                await bare(first)
            else:
                await bare(first)
                await ours(first + count, r == rounds - 1)
            print(
                f"   round {r + 1}: bare {bares[-1]:5.0f} msg/s, pipeline {wholes[-1]:5.0f} "
                f"(sending only {sendings[-1]:.0f}): {wholes[-1] / bares[-1]:4.2f}x; CPU a "
                f"message: bare {_ms(cpu['bare'][-1], count)} + sandbox "
                f"{_ms(cpu['bare sandbox'][-1], count)}, pipeline "
                f"{_ms(cpu['pipeline'][-1], count)} + sandbox "
                f"{_ms(cpu['pipeline sandbox'][-1], count)}"
                + (f" + PostgreSQL {_ms(cpu['server'][-1], count)}" if backend != "sqlite" else "")
            )
    bare_rate, whole = statistics.median(bares), statistics.median(wholes)
    print(
        f"   bare send_message loop, {concurrency} in flight: best {max(bares):5.0f}, "
        f"median {bare_rate:5.0f} msg/s"
    )
    print(
        f"   pipeline (launch + send), {concurrency} in flight: best {max(wholes):5.0f}, "
        f"median {whole:5.0f} msg/s (sending only: best {max(sendings):.0f}, median "
        f"{statistics.median(sendings):.0f})"
    )
    print(
        f"   => pipeline / bare loop, {concurrency} in flight: {whole / bare_rate:4.2f}x medians, "
        f"{max(wholes) / max(bares):4.2f}x bests (target >= 0.9; per round: "
        + ", ".join(f"{w / b:.2f}" for w, b in zip(wholes, bares, strict=True))
        + ")"
    )
    medians = {side: statistics.median(values) for side, values in cpu.items()}
    print(
        f"   CPU a message, medians: bare loop {_ms(medians['bare'], count)} here + "
        f"{_ms(medians['bare sandbox'], count)} in the sandbox; pipeline "
        f"{_ms(medians['pipeline'], count)} here + {_ms(medians['pipeline sandbox'], count)} "
        "in the sandbox"
        + (f" + {_ms(medians['server'], count)} in PostgreSQL" if backend != "sqlite" else "")
    )
    if profile is not None and profile_to:
        profile.dump_stats(profile_to)
        print(f"   profile of the last pipeline run: {profile_to}")
    return statistics.median(sendings)


# --- part 2: limits on -----------------------------------------------------------------------


async def part_two(backend: str, tmp: Path, seconds: float, concurrency: int) -> None:
    limit = rate = 30
    count = int(rate * seconds)
    slack = LimitSettings().window_slack
    print(
        f"\n2. limits on ({limit}/s, 1/s per chat): {count} asks, about {seconds:.0f} s, {backend}"
    )
    print(
        f"   SEND_RATE_PER_SECOND={rate}: paced evenly, and never more than {rate} sends "
        f"started in any {1 + slack:.2f} s"
    )
    url, drop = await database(backend, tmp)
    try:
        with SandboxProcess(count, limits_on=True) as sandbox:
            sandbox_url = sandbox.url
            stats = (
                await pipeline(url, sandbox_url, FIRST_CHAT, count, concurrency, rate=rate)
            ).stats
            from bot.sandbox.client import SandboxClient

            async with SandboxClient(sandbox_url, DEFAULT_TOKEN) as client:
                sandbox_stats = await client.stats()
                sent = await client.sent(accepted_only=True)
    finally:
        if drop:
            await drop()
    times = sorted(m["time"] for m in sent)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    in_window = max(
        sum(1 for u in times[i : i + limit + 1] if u < t + 1.0) for i, t in enumerate(times)
    )
    print(
        f"   achieved {achieved:.2f} msg/s = {achieved / limit:.3f} of the {limit}/s limit"
        " (target >= 0.95)"
    )
    print(
        f"   429 answers: {sandbox_stats['rate_limited']} (target 0); most in any 1 s: {in_window}"
    )
    print(f"   worker: {stats}")


# --- part 3: no HTTP -------------------------------------------------------------------------


class CountingSender:
    """A sender that only counts: the pipeline's own cost, without HTTP."""

    def __init__(self) -> None:
        self.count = 0

    async def send_text(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Sequence[Sequence[Button]] = (),
        paid: bool = False,
    ) -> SendOutcome:
        self.count += 1
        await asyncio.sleep(0)
        return SendOutcome(Result.SENT, message_id=self.count)


async def limiter_alone(rate: float, seconds: float, lanes: int = 64) -> float:
    """Pace a counting sender with the limiter alone; return the achieved share of `rate`."""
    limiter = SendLimiter(LimitSettings(per_second=rate, burst=max(1, int(rate // 100))))
    sender = CountingSender()
    chats = iter(range(FIRST_CHAT, FIRST_CHAT + 10**9))
    started = time.monotonic()
    deadline = started + seconds

    async def lane() -> None:
        while time.monotonic() < deadline:
            chat = next(chats)
            while True:
                booking = limiter.reserve(chat, time.monotonic())
                if booking.wait > 0:
                    await asyncio.sleep(booking.wait)
                if booking.booked:
                    break
            while (late := limiter.window_wait(time.monotonic())) > 0:  # noqa: ASYNC110
                await asyncio.sleep(late)
            limiter.started(time.monotonic())
            await sender.send_text(chat, "x")

    await asyncio.gather(*(lane() for _ in range(lanes)))
    return sender.count / (time.monotonic() - started) / rate


async def counting_worker(url: str, name: str) -> tuple[int, float, float]:
    """Run one outbox worker with a counting sender until the outbox is empty."""
    engine = make_engine(url)
    sessions = session_maker(engine)
    settings = settings_for(url, "http://127.0.0.1:9", 1e6)
    sender = CountingSender()
    worker = OutboxWorker(sessions, sender, settings, worker_id=name, batch_size=200)
    started = time.perf_counter()
    await run_until_sent(worker, sessions)
    done = time.perf_counter()
    await engine.dispose()
    return sender.count, started, done


async def part_three(backend: str, tmp: Path, count: int, http_rate: float) -> None:
    print("\n3. no HTTP")
    share = await limiter_alone(1000.0, 5.0)
    print(
        f"   limiter alone at 1000/s, counting sender: {share:.3f} of the limit (target >= 0.95)"
    )
    results = {}
    for processes in (1, 2):
        url, drop = await database(backend, tmp)
        try:
            engine = make_engine(url)
            sessions = session_maker(engine)
            await seed(sessions, FIRST_CHAT, count)
            settings = settings_for(url, "http://127.0.0.1:9", 1e6)
            campaign = Campaign.model_validate(SPEC)
            await launch_campaign(sessions, campaign, now=datetime.now(UTC), settings=settings)
            await make_due(sessions)
            await engine.dispose()
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--counting-worker",
                    url,
                    f"w{i}",
                    stdout=asyncio.subprocess.PIPE,
                )
                for i in range(processes)
            ]
            outputs = [(await p.communicate())[0].decode().split() for p in procs]
        finally:
            if drop:
                await drop()
        sent = sum(int(o[0]) for o in outputs)
        span = max(float(o[2]) for o in outputs) - min(float(o[1]) for o in outputs)
        results[processes] = sent / span
        counts = ", ".join(o[0] for o in outputs)
        print(
            f"   pipeline with a counting sender, {processes} process(es) on {backend}: "
            f"{sent / span:7.0f} asks/s (sent per process: {counts})"
        )
    per_worker = min(results[1], http_rate) if http_rate else results[1]
    print(
        f"   one worker process sends {http_rate:.0f}/s over HTTP to the local sandbox (part 1)"
        " and "
        f"{results[1]:.0f}/s without HTTP"
    )
    need = math.ceil(1000 / per_worker)
    print(
        f"   => about {need} worker processes (`campaign-bot worker`, each at "
        f"SEND_RATE_PER_SECOND={1000 / need:.0f}) fill the 1000/s paid-broadcast limit, "
        "given a core each"
    )


async def main(args: argparse.Namespace) -> None:
    parts = {int(p) for p in args.parts.split(",")}
    if importlib.util.find_spec("sniffio") is None:
        print(
            "note: sniffio is not installed, so httpcore retries a failing import on every "
            "request, in the bare loop and the pipeline alike (pip install -e . adds it)"
        )
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        http_rate = 0.0
        if 1 in parts:
            http_rate = await part_one(
                args.backend, tmp, args.messages, args.concurrency, args.rounds, args.profile
            )
        if 2 in parts:
            await part_two(args.backend, tmp, args.minute, args.concurrency)
        if 3 in parts:
            await part_three(args.backend, tmp, args.messages * 2, http_rate)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-sandbox":
        asyncio.run(_serve_sandbox(int(sys.argv[2]), "--limits-on" in sys.argv))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--counting-worker":
        n, t0, t1 = asyncio.run(counting_worker(sys.argv[2], sys.argv[3]))
        print(n, t0, t1)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per part-1 run")
    parser.add_argument("--minute", type=float, default=60.0, help="seconds of part 2")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 1,3")
    parser.add_argument("--concurrency", type=int, default=8, help="sends in flight")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of part 1 (medians)")
    parser.add_argument("--profile", help="write a cProfile of part 1's last pipeline run here")
    asyncio.run(main(parser.parse_args()))
