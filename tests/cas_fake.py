"""A local stand-in for the Combot Anti-Spam API: GET /check?user_id=N answers as CAS does.

Listed users get {"ok": true, "result": {...}}, others {"ok": false, "description": ...};
users in `slow` get their answer only after `delay` seconds. Nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeCas:
    """What the fake answers, and the user ids it was asked about."""

    banned: set[int] = field(default_factory=set)
    slow: set[int] = field(default_factory=set)
    delay: float = 5.0
    asked: list[int] = field(default_factory=list)
    url: str = ""
    handlers: set[asyncio.Task[object]] = field(default_factory=set)

    def answer(self, user_id: int) -> dict[str, object]:
        """Return CAS's JSON answer about one user."""
        if user_id in self.banned:
            return {"ok": True, "result": {"offenses": 1, "messages": [], "time_added": 0}}
        return {"ok": False, "description": "Record not found."}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            target = request.split(b" ", 2)[1].decode()
            query = parse_qs(urlsplit(target).query)
            user_id = int(query.get("user_id", ["0"])[0])
            self.asked.append(user_id)
            if user_id in self.slow:
                await asyncio.sleep(self.delay)
            body = json.dumps(self.answer(user_id)).encode()
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if task is not None:
                self.handlers.discard(task)


@contextlib.asynccontextmanager
async def fake_cas(**options: object) -> AsyncIterator[FakeCas]:
    """Serve a FakeCas on a free loopback port while the block runs."""
    fake = FakeCas(**options)  # type: ignore[arg-type]
    server = await asyncio.start_server(fake._handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}/check"
    try:
        yield fake
    finally:
        server.close()
        # Answers still sleeping for slow users are never sent.
        for task in list(fake.handlers):
            task.cancel()
        await asyncio.gather(*fake.handlers, return_exceptions=True)
        await server.wait_closed()


def closed_port_url() -> str:
    """Return a CAS URL where nothing listens (the service is down)."""
    from bot.net import free_port

    return f"http://127.0.0.1:{free_port()}/check"
