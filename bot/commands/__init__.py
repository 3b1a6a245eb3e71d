"""Typer commands, one module per feature, each with its own Typer app that bot/cli.py includes."""
