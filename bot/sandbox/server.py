"""The sandbox's Starlette app and the ways to run it: in this event loop, blocking, or alone."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from bot.sandbox.api import METHODS
from bot.sandbox.calls import Call, DroppedConnection, run_method
from bot.sandbox.chats import DEFAULT_TOKEN
from bot.sandbox.client import SandboxClient
from bot.sandbox.community_control import COMMUNITY_ROUTES
from bot.sandbox.control import CONTROL_ROUTES
from bot.sandbox.errors import ApiError
from bot.sandbox.forms import parse_params
from bot.sandbox.limits import Clock, Limits
from bot.sandbox.state import SandboxState
from bot.sandbox.webhook import WebhookSender

_INCOMPLETE = "ASGI callable returned without completing response."


class _QuietDrops(logging.Filter):
    """Hide uvicorn's complaint about the connections the sandbox drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _INCOMPLETE


class _DroppedResponse(Response):
    """Start an answer and stop: uvicorn closes the connection, the client sees it cut."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})


def _envelope(body: dict[str, Any], status: int) -> Response:
    """Answer a Bot API JSON envelope."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status, media_type="application/json")


async def _client_gone(request: Request) -> None:
    """Return once the client closes the connection (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_client_leaves(request: Request, work: Awaitable[Any]) -> tuple[bool, Any]:
    """Run a long call; stop it if the client hangs up. Return (finished, result)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if task.done():
        return True, task.result()
    # An abandoned long poll would otherwise linger and later end in a spurious 409.
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False, None


async def bot_endpoint(request: Request) -> Response:
    """Answer one Bot API call: POST or GET /bot{token}/{method}."""
    state: SandboxState = request.app.state.sandbox
    name: str = request.path_params["method"]
    method = METHODS.get(name.lower())
    label = method.name if method is not None else name
    try:
        bot = state.authorize(request.path_params["token"])
        if method is None:
            raise ApiError(404, "Not Found")
        params = parse_params(
            request.headers.get("content-type", ""),
            await request.body(),
            request.scope["query_string"].decode("latin-1"),
        )
        plan = state.faults.draw(name.lower())
        if plan is not None and plan.delay:
            await asyncio.sleep(plan.delay)
        call = Call(state, params, bot, method.name)
        if method.async_handler is None:
            result = await run_method(method, call, plan)
        else:
            finished, result = await _unless_client_leaves(request, run_method(method, call, plan))
            if not finished:
                state.count(label, "closed")
                return Response(status_code=499)
    except ApiError as error:
        state.count(label, str(error.code))
        return _envelope(error.envelope(), error.code)
    except DroppedConnection:
        state.count(label, "dropped")
        return _DroppedResponse()
    state.count(label, "200")
    return _envelope({"ok": True, "result": result}, 200)


async def _index(request: Request) -> Response:
    """Say what this server is, for a person who opens it in a browser."""
    return _envelope({"ok": True, "result": "campaign-bot Telegram Bot API sandbox"}, 200)


def create_app(state: SandboxState) -> Starlette:
    """Build the Starlette app serving the Bot API and the control API over `state`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.reopen()
        sender = asyncio.create_task(WebhookSender(state).run())
        try:
            yield
        finally:
            state.close()
            # A webhook that does not answer must not hold the shutdown for long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sender, 1.0)

    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_QuietDrops())
    routes = [
        Route("/bot{token}/{method}", bot_endpoint, methods=["GET", "POST"]),
        Mount("/sandbox", routes=CONTROL_ROUTES + COMMUNITY_ROUTES),
        Route("/", _index),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = state
    return app


def _http_protocol() -> str:
    """Pick httptools when installed (faster), else h11."""
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def _config(app: Any, **options: Any) -> uvicorn.Config:
    """Return a quiet uvicorn config for `app`."""
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        http=_http_protocol(),
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=2,
        **options,
    )


def _bind(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket, so port 0 gives a free port we know before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections; without it
    # every answer waits for the peer's delayed ACK (about 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _url(host: str, sock: socket.socket) -> str:
    """Return the base URL of a bound socket."""
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its host and stops without waiting for a tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        """Ask the server to stop now."""
        self.should_exit = True
        self._stop.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; an event lets tests stop a sandbox at once.
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)


@contextlib.asynccontextmanager
async def serve_asgi(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, on_stop: Callable[[], None] | None = None
) -> AsyncIterator[str]:
    """Serve an ASGI app in the running event loop and yield its base URL; stop on exit."""
    sock = _bind(host, port)
    server = _EmbeddedServer(_config(app, log_config=None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("the server stopped while starting")
            await asyncio.sleep(0.005)
        yield _url(host, sock)
    finally:
        if on_stop is not None:
            on_stop()
        server.request_stop()
        await task
        sock.close()


@dataclass
class Sandbox:
    """A running sandbox: where it listens, a control client and its state."""

    url: str
    bot_base_url: str
    token: str
    client: SandboxClient
    state: SandboxState

    @property
    def bot_api_url(self) -> str:
        """Return the URL prefix of this token's Bot API methods."""
        return f"{self.bot_base_url}{self.token}"


@contextlib.asynccontextmanager
async def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    *,
    limits_enabled: bool = True,
    limits: Limits | None = None,
    clock: Clock | None = None,
    wall_clock: Callable[[], float] | None = None,
) -> AsyncIterator[Sandbox]:
    """Run a sandbox in the running event loop; with a token, only that token is accepted."""
    limits = Limits(**(limits or Limits()).as_dict())
    limits.enabled = limits.enabled and limits_enabled
    state = SandboxState(token=token, limits=limits, clock=clock, wall_clock=wall_clock)
    app = create_app(state)
    async with (
        serve_asgi(app, host, port, on_stop=state.close) as url,
        SandboxClient(url, token or DEFAULT_TOKEN) as client,
    ):
        yield Sandbox(url, f"{url}/bot", token or DEFAULT_TOKEN, client, state)


def banner(url: str, token: str | None) -> str:
    """Return the text that tells a person how to point the bot at the sandbox."""
    shown = token or DEFAULT_TOKEN
    return "\n".join(
        [
            f"SANDBOX_URL={url}",
            "Telegram Bot API sandbox is running (nothing here talks to Telegram).",
            f"  Bot API base URL: {url}/bot   e.g. Bot({shown!r}, base_url={url + '/bot'!r})",
            f"  token: {'only ' + shown if token else 'any token like ' + shown}",
            f"  control API:      {url}/sandbox/  (users, chats, start, text, press, sent, stats;",
            "                    channel_post, post, comment, react, join, leave, vote)",
            "  stop with Ctrl+C",
        ]
    )


def serve_sandbox(
    host: str = "127.0.0.1",
    port: int = 8081,
    token: str | None = None,
    *,
    limits_enabled: bool = True,
) -> None:
    """Run a sandbox until interrupted, printing how to point the bot at it first."""
    state = SandboxState(token=token, limits=Limits(enabled=limits_enabled))
    sock = _bind(host, port)
    print(banner(_url(host, sock), token), flush=True)
    server = uvicorn.Server(_config(create_app(state)))
    # uvicorn re-raises the signal that stopped it; end quietly with status 0 instead.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
