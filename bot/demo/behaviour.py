"""How simulated supporters answer an ask: a small, seeded model, never a finding."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ArmBehaviour:
    """Chances that a supporter who received an ask of one style does each thing."""

    reply: float
    click: float
    give_after_click: float
    opt_out: float


@dataclass(frozen=True)
class BehaviourModel:
    """The simulated supporters' parameters; printed by the demo, labelled as simulated."""

    specific: ArmBehaviour = ArmBehaviour(
        reply=0.20, click=0.32, give_after_click=0.45, opt_out=0.01
    )
    broadcast: ArmBehaviour = ArmBehaviour(
        reply=0.05, click=0.14, give_after_click=0.30, opt_out=0.03
    )
    follow_up_click: float = 0.10
    holdout_gives: float = 0.01
    channel_clicks_per_member: float = 0.02
    # Of the members mentioned in a public reply, the share who open its button.
    public_opens: float = 0.6
    gift_amounts_minor: tuple[int, ...] = (500, 1000, 1500, 2500, 5000, 10000)

    def describe(self) -> list[str]:
        """Return the parameters as plain lines for the demo's output."""
        lines = []
        for name, arm in (("specific", self.specific), ("broadcast", self.broadcast)):
            lines.append(
                f"{name}-style ask: reply {arm.reply:.0%}, click {arm.click:.0%}, "
                f"give after click {arm.give_after_click:.0%}, opt out {arm.opt_out:.0%}"
            )
        lines.append(f"follow-up: click {self.follow_up_click:.0%} of those who had not")
        lines.append(f"holdout (never asked): give anyway {self.holdout_gives:.0%}")
        lines.append(f"channel post: {self.channel_clicks_per_member:.0%} of members click")
        lines.append(
            f"public reply in the group: {self.public_opens:.0%} of those mentioned open its "
            "button, then act as after a specific-style ask"
        )
        return lines


@dataclass(frozen=True)
class Response:
    """What one simulated supporter does after one ask."""

    opt_out: bool
    reply: str | None
    click: bool
    gift_minor: int | None


REPLIES = {
    "en": [
        "Of course! I loved that exhibition, happy to help.",
        "How will the money be used?",
        "Sorry, not this time.",
        "Thank you for remembering me, I'll give something.",
    ],
    "nl": [
        "Natuurlijk! Die tentoonstelling was prachtig, ik help graag.",
        "Waar wordt het geld aan besteed?",
        "Sorry, deze keer niet.",
        "Leuk dat jullie aan me denken, ik doe een gift.",
    ],
}
OPT_OUT = {"en": "stop", "nl": "stop"}


def _rng(seed: int, *key: object) -> random.Random:
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def respond(
    model: BehaviourModel, *, seed: int, supporter_id: int, arm_kind: str, step: str, language: str
) -> Response:
    """Decide, reproducibly for a seed, what one supporter does after one ask."""
    rng = _rng(seed, supporter_id, step)
    lang = language if language in REPLIES else "en"
    if step != "ask":
        clicked = rng.random() < model.follow_up_click
        gift = rng.choice(model.gift_amounts_minor) if clicked and rng.random() < 0.4 else None
        return Response(opt_out=False, reply=None, click=clicked, gift_minor=gift)
    arm = model.specific if arm_kind == "specific" else model.broadcast
    if rng.random() < arm.opt_out:
        return Response(opt_out=True, reply=OPT_OUT[lang], click=False, gift_minor=None)
    reply = rng.choice(REPLIES[lang]) if rng.random() < arm.reply else None
    clicked = rng.random() < arm.click
    gives = clicked and rng.random() < arm.give_after_click
    gift = rng.choice(model.gift_amounts_minor) if gives else None
    return Response(opt_out=False, reply=reply, click=clicked, gift_minor=gift)


def opens_public_ask(model: BehaviourModel, *, seed: int, supporter_id: int) -> bool:
    """Decide, reproducibly for a seed, whether a member opens a public reply's button."""
    return _rng(seed, supporter_id, "public").random() < model.public_opens


def holdout_gift(model: BehaviourModel, *, seed: int, supporter_id: int) -> int | None:
    """Return a spontaneous gift from a never-asked supporter, or None."""
    rng = _rng(seed, supporter_id, "holdout")
    return rng.choice(model.gift_amounts_minor) if rng.random() < model.holdout_gives else None


@dataclass(frozen=True)
class CommunityBehaviour:
    """The simulated discussion group's parameters; printed by the demo, labelled simulated."""

    # Of the imported supporters, the share who are members of the channel's discussion group.
    members_share: float = 0.08
    # People new to the museum who join the group through the exhibition poster's invite link.
    newcomers: int = 24
    newcomers_who_start: float = 0.75
    # Of the newcomers who start the bot, the share who give at once on the poster's page.
    newcomers_who_give: float = 0.2
    comment_on_ships: float = 0.6
    comment_on_other: float = 0.25
    question: float = 0.12
    react: float = 0.5
    # Chances of a comment's tone: positive, then negative; the rest is neutral.
    positive: float = 0.6
    negative: float = 0.15

    def describe(self) -> list[str]:
        """Return the parameters as plain lines for the demo's output."""
        return [
            f"discussion group: {self.members_share:.0%} of supporters are members, "
            f"{self.newcomers} newcomers join through the poster's invite link and "
            f"{self.newcomers_who_start:.0%} of them start the bot, "
            f"{self.newcomers_who_give:.0%} of those give at once on the poster's page",
            f"members comment under the Ships in Bottles post {self.comment_on_ships:.0%}, "
            f"under another post {self.comment_on_other:.0%}, ask a question "
            f"{self.question:.0%}, react {self.react:.0%}; comments "
            f"{self.positive:.0%} positive, {self.negative:.0%} negative",
        ]

    def tone(self, rng: random.Random) -> str:
        """Draw a comment's tone."""
        draw = rng.random()
        if draw < self.positive:
            return "positive"
        return "negative" if draw < self.positive + self.negative else "neutral"


# What members write in the group, by tone and language; each reads as its tone to the
# classifier (tests/test_demo.py checks the recorded sentiments).
COMMENTS = {
    "positive": {
        "en": [
            "Wonderful exhibition, the tiny ships are amazing!",
            "Love this! ❤️",
            "Beautiful work, we really enjoyed it.",
            "What a lovely idea, thank you!",
        ],
        "nl": [
            "Prachtige tentoonstelling, echt genoten!",
            "Wat een mooie schepen!",
            "Geweldig werk van de vrijwilligers!",
            "Heel mooi gedaan, dank jullie wel!",
        ],
    },
    "negative": {
        "en": ["Not impressed, expected more.", "Disappointing, far too crowded."],
        "nl": ["Jammer, veel te druk en te duur.", "Teleurstellend, veel te klein."],
    },
    "neutral": {
        "en": [
            "Saw it on Saturday.",
            "We went with the school class.",
            "We'll come over Christmas.",
        ],
        "nl": ["We gaan zondag kijken.", "Wij waren er vorige week.", "Ik was er met mijn klas."],
    },
}
QUESTIONS = {
    "en": [
        "Is the ship hall wheelchair accessible?",
        "How long is it on for?",
        "Can children take part in the workshop?",
    ],
    "nl": [
        "Kan ik met de Museumkaart naar binnen?",
        "Tot wanneer is de tentoonstelling te zien?",
        "Is er een rondleiding op zondag?",
    ],
}
STAFF_ANSWERS = {
    "en": "Good question! Yes: ask at the front desk and we will gladly help you.",
    "nl": "Goede vraag! Ja: vraag het bij de balie, we helpen je graag.",
}
REACTIONS = {"positive": ["👍", "❤", "🔥", "👏"], "negative": ["👎"], "neutral": ["🤔"]}


def community_rng(seed: int, *key: object) -> random.Random:
    """Return the community scene's generator for one seed and purpose."""
    return _rng(seed, "community", *key)
