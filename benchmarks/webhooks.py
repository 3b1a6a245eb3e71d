"""Load test: signed donation webhooks and tracked-link clicks from a second process.

The bot's web app runs under uvicorn on 127.0.0.1 (port 0) in a child process; this process
posts signed generic and Stripe donations (with replays) and taps tracked links (with repeats
and link previewers) at a fixed concurrency, then checks the database: every donation recorded
once, every token clicked once, no previewer counted. Prints the rates.

    .venv/bin/python benchmarks/webhooks.py                       # a fresh SQLite file
    .venv/bin/python benchmarks/webhooks.py --database-url postgresql+asyncpg://.../db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text

from bot.domain.attribution import sign_body, stripe_signature
from bot.domain.spec import Campaign
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.models import SENT, Ask, Click, Donation, Supporter
from bot.storage.models import Campaign as CampaignRow

HOOK_SECRET = "bench-generic-secret"
STRIPE_SECRET = "whsec_bench"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
PREVIEWER = "TelegramBot (like TwitterBot)"


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


# --- the server process -------------------------------------------------------------------


def serve(database_url: str, sock: socket.socket, ready: Any) -> None:
    """Run the web app under uvicorn on an already-bound socket until terminated."""
    import uvicorn

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
    engine = make_engine(settings.database_url)
    spec = bench_spec()
    app = create_web_app(
        sessions=session_maker(engine), settings=settings, specs=lambda: {"bench": spec}
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    ready.set()
    asyncio.run(server.serve(sockets=[sock]))


# --- seeding and checking -----------------------------------------------------------------


async def seed(database_url: str, people: int, now: datetime) -> list[str]:
    """Create the tables, one campaign, `people` supporters each with a delivered ask."""
    engine = make_engine(database_url)
    try:
        await create_all(engine)
        async with engine.begin() as conn:
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


async def check(database_url: str) -> dict[str, int]:
    """Count what the server stored, and anything stored twice."""
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
                "by_token": await scalar(
                    "SELECT count(*) FROM donation WHERE attribution = 'token'"
                ),
                "by_window": await scalar(
                    "SELECT count(*) FROM donation WHERE attribution = 'window'"
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
            }
    finally:
        await engine.dispose()


# --- the load -----------------------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request of the load and what kind it is."""

    kind: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def generic_donation(event_id: str, amount: int, when: datetime, **extra: Any) -> Request:
    body = json.dumps(
        {
            "id": event_id,
            "amount": amount,
            "currency": "EUR",
            "donated_at": when.isoformat(),
            **extra,
        }
    ).encode()
    headers = {"Content-Type": "application/json", "X-Signature": sign_body(body, HOOK_SECRET)}
    return Request("donation", "POST", "/donations/webhook", headers, body)


def stripe_donation(
    event_id: str, amount: int, token: str, sign_time: Callable[[], int]
) -> Request:
    body = json.dumps(
        {
            "id": event_id,
            "type": "checkout.session.completed",
            "created": sign_time(),
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
    # Signed when built; the run lasts well inside Stripe's 300 s tolerance.
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_signature(body, STRIPE_SECRET, sign_time()),
    }
    return Request("donation", "POST", "/donations/stripe", headers, body)


def build_load(
    tokens: list[str], donations: int, replays: int, repeats: int, previews: int, now: datetime
) -> tuple[list[Request], int]:
    """Make the shuffled request list; return it and the expected EUR total."""
    rng = random.Random(7)
    stamp = lambda: int(time.time())  # noqa: E731  (the signing moment is the real clock)
    load: list[Request] = []
    originals: list[Request] = []
    total = 0
    for i in range(donations):
        amount = 100 + i % 5000
        total += amount
        person = rng.randrange(len(tokens))
        if i % 5 == 0:
            request = stripe_donation(f"evt_bench_{i}", amount, tokens[person], stamp)
        elif i % 2 == 0:
            request = generic_donation(f"g-{i}", amount, now, reference=tokens[person])
        else:
            donor = {"telegram_user_id": 1_000_000 + person}
            request = generic_donation(f"g-{i}", amount, now, donor=donor)
        originals.append(request)
    load += originals
    load += [
        Request("replay", r.method, r.path, r.headers, r.body)
        for r in rng.sample(originals, replays)
    ]
    load += [Request("click", "GET", f"/r/{t}", {"User-Agent": PHONE}) for t in tokens]
    load += [
        Request("repeat", "GET", f"/r/{t}", {"User-Agent": PHONE})
        for t in rng.sample(tokens, repeats)
    ]
    load += [
        Request("preview", "GET", f"/r/{t}", {"User-Agent": PREVIEWER})
        for t in rng.sample(tokens, previews)
    ]
    rng.shuffle(load)
    return load, total


async def run_load(
    base_url: str, load: list[Request], concurrency: int
) -> tuple[Counter[str], dict[str, list[float]], float]:
    """Send every request with `concurrency` workers; count outcomes and time each kind."""
    outcomes: Counter[str] = Counter()
    latencies: dict[str, list[float]] = {}
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in load:
        queue.put_nowait(request)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    # TCP_NODELAY: a POST goes out as headers then body; without it, Nagle's algorithm and
    # delayed ACKs add ~40 ms to every webhook on loopback and we would time the kernel.
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay)
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                response = await client.request(
                    request.method, request.path, headers=request.headers, content=request.body
                )
                latencies.setdefault(request.kind, []).append(time.perf_counter() - started)
                if request.method == "GET":
                    outcomes[f"{request.kind}:{response.status_code}"] += 1
                else:
                    status = response.json().get("status", response.status_code)
                    outcomes[f"{request.kind}:{status}"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return outcomes, latencies, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--donations", type=int, default=10_000)
    parser.add_argument("--clicks", type=int, default=10_000, help="distinct tokens clicked")
    parser.add_argument("--replays", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=1_000, help="second taps on a token")
    parser.add_argument("--previews", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory(prefix="bench-webhooks-")
    url = args.database_url or f"sqlite+aiosqlite:///{workdir.name}/bench.db"
    now = datetime.now(UTC)
    tokens = asyncio.run(seed(url, args.clicks, now))
    load, expected_total = build_load(
        tokens, args.donations, args.replays, args.repeats, args.previews, now
    )

    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every JSON answer stalls ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    server = context.Process(target=serve, args=(url, sock, ready), daemon=True)
    server.start()
    sock.close()
    ready.wait(30)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        outcomes, latencies, elapsed = asyncio.run(run_load(base, load, args.concurrency))
    finally:
        server.terminate()
        server.join(15)
    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = asyncio.run(check(url))

    backend = url.split(":", 1)[0]
    print(f"backend {backend}, server pid {server.pid} on {base}, concurrency {args.concurrency}")
    print(f"{len(load)} requests in {elapsed:.1f} s = {len(load) / elapsed:,.0f} requests/s")
    cpu = server_cpu.ru_utime + server_cpu.ru_stime
    print(
        f"  server CPU {cpu:.1f} s = {cpu / len(load) * 1000:.2f} ms per request; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (client shares the box)"
    )
    for kind in ("donation", "replay", "click", "repeat", "preview"):
        times = sorted(latencies.get(kind, []))
        if times:
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"  {kind:9} {len(times):6}  median {statistics.median(times) * 1000:6.1f} ms"
                f"  p95 {p95 * 1000:6.1f} ms"
            )
    posts = len(latencies.get("donation", [])) + len(latencies.get("replay", []))
    gets = sum(len(latencies.get(k, [])) for k in ("click", "repeat", "preview"))
    print(f"  webhook posts {posts} ({posts / elapsed:,.0f}/s of the mixed run), clicks {gets}")
    print("responses:", dict(sorted(outcomes.items())))
    print("database:", found)

    checks = {
        "every donation recorded": found["donations"] == args.donations,
        "no provider event twice": found["donation_events_twice"] == 0,
        # A replay may overtake its original in the shuffle; either way one is recorded.
        "each event answered 'recorded' once": outcomes["donation:recorded"]
        + outcomes["replay:recorded"] == args.donations,
        "the other copies answered 'duplicate'": outcomes["donation:duplicate"]
        + outcomes["replay:duplicate"] == args.replays,
        "total amount intact": found["donation_total_eur"] == expected_total,
        "every gift credited": found["by_token"] + found["by_window"] == args.donations,
        "every gift on its supporter once": found["gift_count_sum"] == args.donations,
        "every token clicked once": found["clicks"] == args.clicks,
        "no token counted twice": found["tokens_clicked_twice"] == 0,
        "no previewer counted": found["previewer_clicks"] == 0,
        "every click redirected": outcomes["click:302"] + outcomes["repeat:302"]
        + outcomes["preview:302"] == args.clicks + args.repeats + args.previews,
    }  # fmt: skip
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    workdir.cleanup()
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
