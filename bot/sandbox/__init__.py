"""A local HTTP server that speaks the Telegram Bot API, for the demo and the tests."""

from bot.sandbox.chats import DEFAULT_TOKEN
from bot.sandbox.client import SandboxClient, SandboxClientError
from bot.sandbox.limits import Faults, Limits, ManualClock
from bot.sandbox.server import Sandbox, create_app, run_sandbox, serve_asgi, serve_sandbox
from bot.sandbox.state import SandboxState

__all__ = [
    "DEFAULT_TOKEN",
    "Faults",
    "Limits",
    "ManualClock",
    "Sandbox",
    "SandboxClient",
    "SandboxClientError",
    "SandboxState",
    "create_app",
    "run_sandbox",
    "serve_asgi",
    "serve_sandbox",
]
