"""Run the Bot API sandbox as its own process: python -m bot.sandbox --port 8081 [--no-limits]."""

from __future__ import annotations

import argparse

from bot.sandbox.server import serve_sandbox


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the sandbox until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="port (0 picks a free one)")
    parser.add_argument("--token", default=None, help="accept only this bot token")
    parser.add_argument("--no-limits", action="store_true", help="do not enforce flood limits")
    args = parser.parse_args(argv)
    serve_sandbox(args.host, args.port, args.token, limits_enabled=not args.no_limits)


if __name__ == "__main__":
    main()
