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


def holdout_gift(model: BehaviourModel, *, seed: int, supporter_id: int) -> int | None:
    """Return a spontaneous gift from a never-asked supporter, or None."""
    rng = _rng(seed, supporter_id, "holdout")
    return rng.choice(model.gift_amounts_minor) if rng.random() < model.holdout_gives else None
