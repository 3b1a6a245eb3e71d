"""`campaign-bot demo`: a whole campaign on this machine, against the local Bot API sandbox."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import typer
from rich.panel import Panel

from bot.commands.common import console, fail

app = typer.Typer()


@app.command("demo")
def demo(
    supporters: int = typer.Option(
        2000, "--supporters", "-n", min=50, max=50_000, help="How many simulated supporters."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the simulation; same seed, same run."),
    out: Path = typer.Option(
        Path("demo-output"), "--out", help="Folder for the report, chart, transcript and data."
    ),
    campaigns: Path = typer.Option(
        Path("campaigns"),
        "--campaigns",
        help="Folder holding museum-winter-appeal.yaml and museum-community-ask.yaml.",
    ),
) -> None:
    """Run the museum's winter appeal and its group's public-reply test end to end with
    simulated supporters, bought followers and referrals; no token needed."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.demo.behaviour import BehaviourModel, CommunityBehaviour
    from bot.demo.runner import CAMPAIGN, COMMUNITY_CAMPAIGN, Demo

    for name in (CAMPAIGN, COMMUNITY_CAMPAIGN):
        if not (campaigns / f"{name}.yaml").exists():
            fail(f"{campaigns / (name + '.yaml')}: not found (run the demo from the repository)")
    logging.basicConfig(level=logging.ERROR)
    console.print(
        Panel.fit(
            "[bold]campaign-bot demo[/bold]: the Harbour Museum's winter appeal and its group, "
            "one simulated week\nTelegram is the built-in local Bot API sandbox; supporters "
            "are simulated.",
            border_style="cyan",
        )
    )
    console.print("[yellow]SIMULATED[/yellow] supporter behaviour (a model, not a finding):")
    for line in [*BehaviourModel().describe(), *CommunityBehaviour().describe()]:
        console.print(f"  - {line}")
    started = time.monotonic()
    run = Demo(
        supporters=supporters,
        seed=seed,
        out=out,
        progress=lambda line: console.print(
            f"[dim]{time.monotonic() - started:5.1f}s[/dim] {line}", soft_wrap=True
        ),
    )
    try:
        result = asyncio.run(run.run(campaigns))
    except RuntimeError as exc:
        fail(f"demo stopped: {exc}", code=1)
    console.rule("Report (simulated data)")
    console.print(result.report_text, markup=False, highlight=False, soft_wrap=True)
    console.rule()
    console.print(f"Finished in {time.monotonic() - started:.1f}s. Files in {result.out}/:")
    for label, path in result.files.items():
        console.print(f"  {label:<11} {path}")
    console.print(
        "Try it yourself: `campaign-bot report museum-winter-appeal --format html` or "
        f"`campaign-bot community report` with DATABASE_URL={result.database_url}"
    )
