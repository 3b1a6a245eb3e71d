"""Load test: tracked-link clicks and signed donation webhooks against a bare endpoint.

Two servers run under uvicorn on 127.0.0.1 in child processes on the same database: the bot's
web app, and a bare Starlette endpoint that inserts one row per request in its own transaction
(the floor any durable endpoint pays). This process drives both at a fixed concurrency over
keep-alive connections with a minimal HTTP/1.1 client (cheaper than httpx, so the client does
not set the pace), in rounds that alternate the sides:

* clicks: each of a round's fresh tokens tapped once, plus repeats and link previewers, against
  bare GETs;
* webhooks: signed generic and Stripe donations plus replays, against bare POSTs of the same
  bodies.

It prints each side's rate, p95 latency and server CPU per request, the ratio to the bare
endpoint, then checks the database: every tap and gift recorded once, none twice, no
previewer counted, every bare row there.

    .venv/bin/python benchmarks/webhooks.py [--backend sqlite|postgres|both] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._data import analyze, create_pg_database, drop_pg_database, temp_sqlite_url
from bot.domain.attribution import sign_body, stripe_signature
from bot.domain.spec import Campaign
from bot.storage.db import create_all, is_sqlite, make_engine, session_maker
from bot.storage.models import SENT, Ask, Click, Donation, Supporter
from bot.storage.models import Campaign as CampaignRow

HOOK_SECRET = "bench-generic-secret"
STRIPE_SECRET = "whsec_bench"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
PREVIEWER = "TelegramBot (like TwitterBot)"
BARE = Table(
    "bench_hit",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("path", String(64)),
    Column("size", Integer),
    Column("at", DateTime(timezone=True)),
)


def bench_spec() -> Campaign:
    """Return a small campaign spec for the redirect target."""
    return Campaign.model_validate(
        {
            "name": "bench",
            "title": "Benchmark",
            "organisation": "Bench Museum",
            "donate_url": "https://donate.example.org/give?fund=bench",
            "arms": {"specific": {"kind": "specific", "weight": 1, "message": "ask"}},
            "messages": {"ask": {"en": '<a href="{{ donate_link }}">Give</a>'}},
        }
    )


# --- the server processes -------------------------------------------------------------------


def bot_app(database_url: str) -> Any:
    """Build the bot's web app as `campaign-bot run` does."""
    from bot.config import load_settings
    from bot.web import create_web_app

    settings = load_settings(
        {
            "database_url": database_url,
            "donation_webhook_secret": HOOK_SECRET,
            "stripe_webhook_secret": STRIPE_SECRET,
            "click_dedup_seconds": 3600,
        },
        env_file=None,
    )
    spec = bench_spec()
    return create_web_app(
        sessions=session_maker(make_engine(database_url)),
        settings=settings,
        specs=lambda: {"bench": spec},
    )


def bare_app(database_url: str) -> Any:
    """Build a Starlette app whose one endpoint inserts a row per request, then answers."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    engine = make_engine(database_url)
    # The same one-writer queue the bot's app uses on SQLite (busy_timeout polling is slower).
    writing: Any = asyncio.Lock() if is_sqlite(database_url) else contextlib.nullcontext()

    async def hit(request: Request) -> Response:
        body = await request.body()
        async with writing, engine.begin() as conn:
            await conn.execute(
                insert(BARE).values(path=request.url.path, size=len(body), at=datetime.now(UTC))
            )
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/hit/{rest:path}", hit, methods=["GET", "POST"])])


def serve(kind: str, database_url: str, http: str, sock: socket.socket, ready: Any) -> None:
    """Run one app under uvicorn on an already-bound socket until terminated."""
    import uvicorn

    app = bot_app(database_url) if kind == "bot" else bare_app(database_url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http=http)
    server = uvicorn.Server(config)
    ready.set()
    asyncio.run(server.serve(sockets=[sock]))


@dataclass
class Server:
    """A server child process and its port."""

    process: Any
    port: int

    def cpu_seconds(self) -> float:
        """Return the CPU time the process has used so far (user + system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(kind: str, database_url: str, http: str) -> Server:
    """Start a server child process on a free loopback port and wait until it listens."""
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto says
    # TCP, and without it every answer stalls ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(
        target=serve, args=(kind, database_url, http, sock, ready), daemon=True
    )
    process.start()
    sock.close()
    ready.wait(60)
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        time.sleep(0.05)
    return Server(process, port)


# --- seeding and checking -------------------------------------------------------------------


async def seed(database_url: str, people: int, now: datetime) -> list[str]:
    """Create the tables, one campaign, `people` supporters each with a delivered ask."""
    engine = make_engine(database_url)
    try:
        await create_all(engine)
        async with engine.begin() as conn:
            await conn.run_sync(BARE.metadata.create_all)
            campaign_id = (
                await conn.execute(
                    insert(CampaignRow)
                    .values(name="bench", title="Benchmark", state="running", created_at=now)
                    .returning(CampaignRow.id)  # type: ignore[arg-type]
                )
            ).scalar_one()
            supporters = [
                {
                    "telegram_user_id": 1_000_000 + i,
                    "chat_id": 1_000_000 + i,
                    "first_name": f"P{i}",
                    "created_at": now - timedelta(days=90),
                }
                for i in range(people)
            ]
            await conn.execute(insert(Supporter), supporters)
            ids = (await conn.execute(select(Supporter.id).order_by(Supporter.id))).scalars()  # type: ignore[arg-type]
            tokens = [secrets.token_urlsafe(12) for _ in range(people)]
            asks = [
                {
                    "campaign_id": campaign_id,
                    "supporter_id": sid,
                    "arm": "specific",
                    "token": token,
                    "state": SENT,
                    "due_at": now - timedelta(days=2),
                    "sent_at": now - timedelta(days=2),
                }
                for sid, token in zip(ids, tokens, strict=True)
            ]
            await conn.execute(insert(Ask), asks)
        return tokens
    finally:
        await engine.dispose()


async def autovacuum(database_url: str) -> None:
    """On PostgreSQL, do autovacuum's work between rounds (it is off on the test server).

    Each tap and gift updates its supporter's counts; without vacuuming, the dead row
    versions pile up round after round and the bot's side slows while the insert-only bare
    side does not. Production runs autovacuum; SQLite has no such daemon and is left alone.
    """
    if is_sqlite(database_url):
        return
    engine = make_engine(database_url)
    try:
        await analyze(engine)
    finally:
        await engine.dispose()


async def check(database_url: str) -> dict[str, int]:
    """Count what the servers stored, and anything stored twice."""
    engine = make_engine(database_url)
    try:
        async with session_maker(engine)() as session:

            async def scalar(sql: str) -> int:
                return int((await session.execute(text(sql))).scalar_one() or 0)

            return {
                "donations": await scalar("SELECT count(*) FROM donation"),
                "donation_events_twice": await scalar(
                    "SELECT count(*) FROM (SELECT provider, provider_event_id FROM donation "
                    "GROUP BY provider, provider_event_id HAVING count(*) > 1) AS t"
                ),
                "credited": await scalar(
                    "SELECT count(*) FROM donation WHERE attribution IN ('token', 'window')"
                ),
                "clicks": int(
                    (await session.execute(select(func.count()).select_from(Click))).scalar_one()
                ),
                "tokens_clicked_twice": await scalar(
                    "SELECT count(*) FROM (SELECT token FROM click GROUP BY token "
                    "HAVING count(*) > 1) AS t"
                ),
                "previewer_clicks": await scalar(
                    f"SELECT count(*) FROM click WHERE user_agent = '{PREVIEWER}'"
                ),
                "click_interactions": await scalar(
                    "SELECT count(*) FROM interaction WHERE kind = 'click'"
                ),
                "interaction_count_sum": await scalar(
                    "SELECT sum(interaction_count) FROM supporter"
                ),
                "gift_count_sum": await scalar("SELECT sum(gift_count) FROM supporter"),
                "donation_total_eur": int(
                    (
                        await session.execute(
                            select(func.sum(Donation.amount_minor)).where(
                                Donation.currency == "EUR"  # type: ignore[arg-type]
                            )
                        )
                    ).scalar_one()
                    or 0
                ),
                "bare_rows": await scalar("SELECT count(*) FROM bench_hit"),
            }
    finally:
        await engine.dispose()


# --- the load -------------------------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request of the load, encoded, and what kind it is."""

    kind: str
    raw: bytes
    body: bytes = b""


def get(kind: str, path: str, agent: str) -> Request:
    return Request(
        kind, f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {agent}\r\n\r\n".encode()
    )


def post(kind: str, path: str, headers: dict[str, str], body: bytes) -> Request:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n{lines}\r\n"
    return Request(kind, head.encode() + body, body)


def generic_donation(event_id: str, amount: int, when: datetime, **extra: Any) -> Request:
    body = json.dumps(
        {"id": event_id, "amount": amount, "currency": "EUR", "donated_at": when.isoformat()}
        | extra
    ).encode()
    headers = {"Content-Type": "application/json", "X-Signature": sign_body(body, HOOK_SECRET)}
    return post("donation", "/donations/webhook", headers, body)


def stripe_donation(event_id: str, amount: int, token: str, stamp: int) -> Request:
    body = json.dumps(
        {
            "id": event_id,
            "type": "checkout.session.completed",
            "created": stamp,
            "data": {
                "object": {
                    "amount_total": amount,
                    "currency": "eur",
                    "client_reference_id": token,
                    "payment_status": "paid",
                }
            },
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_signature(body, STRIPE_SECRET, stamp),
    }
    return post("donation", "/donations/stripe", headers, body)


def click_load(tokens: list[str], rng: random.Random) -> list[Request]:
    """Tap every token once, a tenth again, and let previewers fetch a twentieth."""
    load = [get("click", f"/r/{t}", PHONE) for t in tokens]
    load += [get("repeat", f"/r/{t}", PHONE) for t in rng.sample(tokens, len(tokens) // 10)]
    load += [get("preview", f"/r/{t}", PREVIEWER) for t in rng.sample(tokens, len(tokens) // 20)]
    rng.shuffle(load)
    return load


def donation_load(
    round_no: int, count: int, tokens: list[str], people: int, now: datetime, rng: random.Random
) -> tuple[list[Request], int]:
    """Make `count` signed gifts plus a tenth replayed; return them and the EUR total."""
    stamp = int(time.time())  # Stripe signatures carry the real time (300 s tolerance)
    load, total = [], 0
    for i in range(count):
        amount = 100 + i % 5000
        total += amount
        token = rng.choice(tokens)
        event = f"{round_no}-{i}"
        if i % 5 == 0:
            load.append(stripe_donation(f"evt_{event}", amount, token, stamp))
        elif i % 2 == 0:
            load.append(generic_donation(f"g-{event}", amount, now, reference=token))
        else:
            donor = {"telegram_user_id": 1_000_000 + rng.randrange(people)}
            load.append(generic_donation(f"g-{event}", amount, now, donor=donor))
    load += [Request("replay", r.raw, r.body) for r in rng.sample(load, count // 10)]
    rng.shuffle(load)
    return load, total


def bare_like(load: list[Request]) -> list[Request]:
    """The same requests (GET or POST with the same body) aimed at the bare endpoint."""
    bare = []
    for i, request in enumerate(load):
        if request.body:
            bare.append(
                post("bare", f"/hit/{i}", {"Content-Type": "application/json"}, request.body)
            )
        else:
            bare.append(get("bare", f"/hit/{i}", PHONE))
    return bare


@dataclass
class Phase:
    """What one side of one round measured."""

    name: str
    requests: int
    seconds: float
    cpu: float
    latencies: dict[str, list[float]]
    outcomes: Counter[str]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def p95(self, kinds: tuple[str, ...] | None = None) -> float:
        times = sorted(
            t for kind, ts in self.latencies.items() if kinds is None or kind in kinds for t in ts
        )
        return times[max(0, int(len(times) * 0.95) - 1)]


async def drive(server: Server, name: str, load: list[Request], concurrency: int) -> Phase:
    """Send every request over `concurrency` keep-alive connections; time and count them."""
    outcomes: Counter[str] = Counter()
    latencies: dict[str, list[float]] = {}
    pending = iter(load)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for request in pending:
                started = time.perf_counter()
                writer.write(request.raw)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                latencies.setdefault(request.kind, []).append(time.perf_counter() - started)
                if status == 200 and body.startswith(b"{"):
                    outcomes[f"{request.kind}:{json.loads(body).get('status')}"] += 1
                else:
                    outcomes[f"{request.kind}:{status}"] += 1
        finally:
            writer.close()

    cpu = server.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Phase(name, len(load), elapsed, server.cpu_seconds() - cpu, latencies, outcomes)


def show(phase: Phase, bare: Phase | None = None) -> str:
    ratio = f"  {phase.rate / bare.rate:4.2f}x bare" if bare else ""
    return (
        f"    {phase.name:9} {phase.rate:7,.0f} req/s  p95 {phase.p95() * 1000:5.1f} ms  "
        f"CPU {phase.cpu / phase.requests * 1000:5.2f} ms/req{ratio}"
    )


async def database(backend: str, tmp: Path) -> tuple[str, Callable[[], Any]]:
    if backend == "sqlite":
        return temp_sqlite_url(tmp), lambda: asyncio.sleep(0)
    url = await create_pg_database()
    return url, lambda: drop_pg_database(url)


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> bool:
    """Run every round on one backend, print the figures and checks; tell if all passed."""
    url, drop = asyncio.run(database(backend, tmp))
    now = datetime.now(UTC)
    people = args.clicks * args.rounds
    tokens = asyncio.run(seed(url, people, now))
    asyncio.run(autovacuum(url))
    bot = start("bot", url, args.http)
    bare = start("bare", url, args.http)
    rng = random.Random(7)
    results: dict[str, list[Phase]] = {
        k: [] for k in ("clicks", "bare-get", "webhooks", "bare-post")
    }
    outcomes: Counter[str] = Counter()
    expected_total = 0
    print(f"\n{backend}: {args.rounds} rounds, {args.concurrency} in flight, http={args.http}")
    try:
        for round_no in range(args.rounds):
            mine = tokens[round_no * args.clicks : (round_no + 1) * args.clicks]
            clicks = click_load(mine, rng)
            gifts, total = donation_load(round_no, args.donations, tokens, people, now, rng)
            expected_total += total
            load = os.getloadavg()[0]
            # Alternate which side goes first, so drift in the machine's speed hits both.
            order = [("bare-get", bare, bare_like(clicks)), ("clicks", bot, clicks)]
            order += [("bare-post", bare, bare_like(gifts)), ("webhooks", bot, gifts)]
            if round_no % 2:
                order = [order[1], order[0], order[3], order[2]]
            phases = {}
            for name, server, requests in order:
                phases[name] = asyncio.run(drive(server, name, requests, args.concurrency))
                results[name].append(phases[name])
                outcomes += phases[name].outcomes
            print(f"  round {round_no + 1} (load average {load:.2f} before it)")
            print(show(phases["clicks"], phases["bare-get"]))
            print(show(phases["bare-get"]))
            print(show(phases["webhooks"], phases["bare-post"]))
            print(show(phases["bare-post"]))
            asyncio.run(autovacuum(url))
    finally:
        for server in (bot, bare):
            server.process.terminate()
            server.process.join(15)
    found = asyncio.run(check(url))
    asyncio.run(drop())

    def summary(mine: str, base: str, label: str) -> None:
        rates = [p.rate for p in results[mine]]
        ratios = [p.rate / b.rate for p, b in zip(results[mine], results[base], strict=True)]
        p95s = [p.p95() * 1000 for p in results[mine]]
        cpus = [p.cpu / p.requests * 1000 for p in results[mine]]
        bares = [p.rate for p in results[base]]
        print(
            f"  {label}: best {max(rates):,.0f}/s, median {statistics.median(rates):,.0f}/s "
            f"(bare best {max(bares):,.0f}/s, median {statistics.median(bares):,.0f}/s); "
            f"ratio best {max(ratios):.2f}x, median {statistics.median(ratios):.2f}x; "
            f"p95 median {statistics.median(p95s):.1f} ms; "
            f"server CPU median {statistics.median(cpus):.2f} ms/req"
        )

    print(f"  {backend} summary over {args.rounds} rounds:")
    summary("clicks", "bare-get", "clicks  ")
    summary("webhooks", "bare-post", "webhooks")
    print("  responses:", dict(sorted(outcomes.items())))
    print("  database:", found)
    taps = args.clicks * args.rounds
    repeats = args.clicks // 10 * args.rounds
    previews = args.clicks // 20 * args.rounds
    gifts = args.donations * args.rounds
    replays = args.donations // 10 * args.rounds
    bare_requests = sum(p.requests for k in ("bare-get", "bare-post") for p in results[k])
    checks = {
        "every gift recorded": found["donations"] == gifts,
        "no provider event twice": found["donation_events_twice"] == 0,
        "each event answered 'recorded' once": outcomes["donation:recorded"]
        + outcomes["replay:recorded"] == gifts,
        "the other copies answered 'duplicate'": outcomes["donation:duplicate"]
        + outcomes["replay:duplicate"] == replays,
        "total amount intact": found["donation_total_eur"] == expected_total,
        "every gift credited": found["credited"] == gifts,
        "every gift on its supporter once": found["gift_count_sum"] == gifts,
        "every token clicked once": found["clicks"] == taps,
        "no token counted twice": found["tokens_clicked_twice"] == 0,
        "no previewer counted": found["previewer_clicks"] == 0,
        "one click interaction per click": found["click_interactions"] == taps,
        "supporters' counts add up": found["interaction_count_sum"] == taps + gifts,
        "every tap redirected": outcomes["click:302"] + outcomes["repeat:302"]
        + outcomes["preview:302"] == taps + repeats + previews,
        "every bare row stored": found["bare_rows"] == bare_requests,
    }  # fmt: skip
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=5_000, help="fresh tokens per round")
    parser.add_argument("--donations", type=int, default=3_000, help="gifts per round")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; client and servers share them")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        passed = [run_backend(backend, args, Path(tmp)) for backend in backends]
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
