"""Typer commands, one module per feature, registered in bot/cli.py."""
