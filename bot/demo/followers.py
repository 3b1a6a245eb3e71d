"""The demo's bought followers: a burst through one promoter's link, flagged and worth nothing.

Staff pay a promoter to advertise the Ships in Bottles exhibition and make the promoter's link
a named source, as they did for the poster. Within a minute 300 accounts join the group
through it, as real chat_member updates through the sandbox, and some press Start in the bot
too. They never write, react or give. The bot flags every join of the burst (burst_join), so
no campaign asks them, and the community report shows the link's value next to the poster's.
"""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any

from bot.demo.behaviour import community_rng
from bot.demo.community import SOURCE
from bot.demo.stage import GROUP_ID, Stage, wait_until
from bot.domain.money import format_amount
from bot.sandbox.chats import User
from bot.storage import community_tally

PROMO = "promo-blast"
PROMO_COMMAND = f"/source {PROMO} visited_exhibition Ships in Bottles"
BOUGHT = 300
# Follower farms sell "bot subscribers" too: these press Start through the promoter's link.
BOUGHT_WHO_START = 30
FOLLOWER_IDS = 720_000_000
# The burst arrives in waves ten simulated seconds apart: 300 joins within a minute.
WAVES = 5
WAVE_GAP = timedelta(seconds=10)


def follower_ids() -> list[int]:
    """Return the bought followers' Telegram ids."""
    return [FOLLOWER_IDS + index for index in range(BOUGHT)]


async def bought_followers(stage: Stage) -> None:
    """Staff make the promoter's link; 300 bought followers join through it in a burst."""
    staff, client = stage.staff, stage.sandbox.client
    await staff.note(f"pays a promoter for 300 followers and makes the promoter's link {PROMO}")
    await staff.command(PROMO_COMMAND, f"?start={PROMO}")
    link = next(x for x in await client.invite_links() if x["name"] == PROMO)
    rng = community_rng(stage.seed, "bought")
    ids = follower_ids()
    for user_id in ids:
        name = "".join(rng.choice(string.ascii_lowercase) for _ in range(7))
        stage.sandbox.state.add_user(User(user_id, name.title(), "", None, "en", started=False))
    size = BOUGHT // WAVES
    for first in range(0, BOUGHT, size):
        stage.clock.now += WAVE_GAP
        wave = ids[first : first + size]
        await client.join_many(GROUP_ID, wave, invite_link=link["invite_link"])
    last = f"j:{GROUP_ID}:{ids[-1]}:{int(stage.clock.unix())}"

    async def recorded() -> bool:
        async with stage.sessions() as session:
            return await community_tally.event_recorded(session=session, event=last)

    await wait_until(recorded, "the bot to record the bought followers' joins")
    starting = ids[:BOUGHT_WHO_START]
    for user_id in starting:
        stage.clock.now += timedelta(seconds=1)
        await client.start(user_id, PROMO)
    for user_id in starting:
        await client.wait_sent(user_id, 1, within=10)
    stage.say(
        f"{BOUGHT} bought followers join the group through the promoter's invite link "
        f"({PROMO}) within {WAVE_GAP * (WAVES - 1)} of simulated time, and {BOUGHT_WHO_START} "
        "of them press Start in the bot; they never write, react or give"
    )


def value_lines(sources: list[dict[str, Any]]) -> list[str]:
    """Say in plain words what the community report's value-by-way-in shows for both links."""
    rows = {row["name"]: row for row in sources if row["kind"] == "invite link"}
    lines = []
    for name in (PROMO, SOURCE):
        row = rows.get(name)
        if row is None:
            lines.append(f"invite link {name!r}: nobody joined")
            continue
        amounts = ", ".join(
            format_amount(total, code) for code, total in sorted(row["amounts"].items())
        )
        lines.append(
            f"invite link {name!r}: {row['joined']} joined, {row['flagged']} flagged, "
            f"{row['active_30_days_after']} active, {row['donors']} donors"
            + (f", {amounts}" if amounts else "")
        )
    return lines
