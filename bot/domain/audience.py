"""Audience rules in plain Python: labels, the random order, and who matches a campaign.

The database selects audiences with one SQL query (bot/storage/audience.py), which takes its
labels, seed, day boundaries and amount factors from here. The rest states the same rules for
one supporter at a time (SupporterHistory, matches, audience_label, detail_matches,
random_rank): the bot never calls those; they are the reference oracle the tests check the
SQL against.

Semantics, shared with the SQL:
* A supporter is in the audience when at least one ``any`` rule matches (or ``any`` is
  empty), every ``all`` rule matches and no ``exclude`` rule matches.
* ``interaction``: at least ``min_count`` interactions of that kind that pass every filter.
  ``detail`` is compared case-insensitively (letters A-Z) and may use ``*`` as a wildcard;
  ``since`` and ``before`` are local dates in the campaign's time zone (since inclusive,
  before exclusive); ``within`` counts back from now.
* ``donated: true`` any recorded gift; ``donated: false`` none.
* ``donated_within``: a gift in that period, of at least ``min_amount`` if given.
* ``gave_at_least``: all gifts together reach the amount.
* Amounts in rules are whole currency units (``min_amount: 10`` is 10 euros); gifts in a
  currency with a different minor unit (JPY, KWD) are compared in their own major units.
"""

from __future__ import annotations

import fnmatch
import itertools
import string
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.domain.durations import format_duration
from bot.domain.money import minor_unit_exponent
from bot.domain.spec import Audience, Rule

LABEL_LIMIT = 200  # the width of ask.rule
# Rule amounts and gifts are compared in thousandths of a major unit, exact for every
# ISO 4217 minor unit (0, 2 or 3 decimals).
MILLI = 1000

# The random order: two affine steps modulo different primes, exact in 64-bit SQL integers.
RANDOM_A1, RANDOM_M1 = 1_103_515_245, 2_147_483_647
RANDOM_A2, RANDOM_M2 = 2_654_435_761, 4_294_967_291

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class InteractionRecord:
    """One interaction as the rules see it."""

    kind: str
    occurred_at: datetime
    detail: str | None = None
    sentiment: str | None = None


@dataclass(frozen=True)
class GiftRecord:
    """One gift as the rules see it."""

    amount_minor: int
    currency: str
    donated_at: datetime


@dataclass(frozen=True)
class SupporterHistory:
    """What the rules may look at for one supporter."""

    supporter_id: int
    language: str = "en"
    tags: frozenset[str] = frozenset()
    interactions: Sequence[InteractionRecord] = ()
    gifts: Sequence[GiftRecord] = field(default_factory=tuple)
    influence: int = 0


def ascii_lower(text: str) -> str:
    """Lower-case A-Z only, as SQLite's lower() does.

    Reference oracle for tests: the SQL lower-cases with lower() itself.
    """
    return text.translate(_ASCII_LOWER)


def milli_factor(currency: str) -> int:
    """Return what one minor unit of a currency is in thousandths of its major unit."""
    return MILLI // int(10 ** minor_unit_exponent(currency))


# Currencies whose minor unit is not a hundredth, with their milli_factor: the SQL needs them
# as a list, and every three-letter code is asked once so money.py stays the only source.
UNUSUAL_FACTORS: dict[str, int] = {
    code: milli_factor(code)
    for code in map("".join, itertools.product(string.ascii_uppercase, repeat=3))
    if minor_unit_exponent(code) != 2
}


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Return local midnight of a day in a zone, as an aware datetime."""
    return datetime.combine(day, time(), tzinfo=zone)


def seed_for(audience: Audience, campaign_name: str) -> int:
    """Return the audience's seed, or a stable one derived from the campaign name."""
    return audience.seed if audience.seed is not None else zlib.crc32(campaign_name.encode())


def random_rank(seed: int, supporter_id: int) -> int:
    """Return the sort key of the seeded random order.

    Reference oracle for tests: the bot computes this in SQL (storage/audience.py).
    """
    s1, s2 = seed % RANDOM_M1, (seed * 7919) % RANDOM_M2
    h1 = (supporter_id * RANDOM_A1 + s1) % RANDOM_M1
    return (h1 * RANDOM_A2 + s2) % RANDOM_M2


def rule_label(rule: Rule) -> str:
    """Describe a rule in a few words, e.g. "visited_exhibition since 2026-01-01"."""
    if rule.interaction is not None:
        parts = [rule.interaction]
        if rule.detail is not None:
            parts.append(f"detail={rule.detail}")
        if rule.sentiment is not None:
            parts.append(f"sentiment={rule.sentiment}")
        if rule.since is not None:
            parts.append(f"since {rule.since.isoformat()}")
        if rule.before is not None:
            parts.append(f"before {rule.before.isoformat()}")
        if rule.within is not None:
            parts.append(f"within {format_duration(rule.within)}")
        if rule.min_count > 1:
            parts.append(f"at least {rule.min_count} times")
        return " ".join(parts)
    if rule.donated is not None:
        return "donated" if rule.donated else "never donated"
    if rule.donated_within is not None:
        text = f"donated within {format_duration(rule.donated_within)}"
        return text if rule.min_amount is None else f"{text} (a gift of {rule.min_amount}+)"
    if rule.gave_at_least is not None:
        return f"gave at least {rule.gave_at_least} in total"
    if rule.tag is not None:
        return f"tag {rule.tag}"
    if rule.influence_at_least is not None:
        return f"influence at least {rule.influence_at_least}"
    return f"language {rule.language}"


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def group_label(group: str, index: int, rule: Rule) -> str:
    """Label a rule by its place in the audience, e.g. "any[0]: comment sentiment=positive"."""
    return _clip(f"{group}[{index}]: {rule_label(rule)}")


def fallback_label(audience: Audience) -> str:
    """Label members of an audience without `any` rules."""
    if not audience.all:
        return "everyone"
    return _clip("all: " + " & ".join(rule_label(rule) for rule in audience.all))


def detail_matches(pattern: str, detail: str | None) -> bool:
    """Compare an interaction's detail with a rule's (case-insensitive, * as wildcard).

    Reference oracle for tests: the bot compares with SQL LIKE (Rule.detail_like).
    """
    if detail is None:
        return False
    wanted, got = ascii_lower(pattern), ascii_lower(detail)
    if "*" not in wanted:
        return wanted == got
    escaped = wanted.replace("[", "[[]").replace("?", "[?]")
    return fnmatch.fnmatchcase(got, escaped)


def _interaction_matches(
    rule: Rule, item: InteractionRecord, *, now: datetime, zone: ZoneInfo
) -> bool:
    if item.kind != rule.interaction:
        return False
    if rule.detail is not None and not detail_matches(rule.detail, item.detail):
        return False
    if rule.sentiment is not None and item.sentiment != rule.sentiment:
        return False
    if rule.since is not None and item.occurred_at < day_start(rule.since, zone):
        return False
    if rule.before is not None and item.occurred_at >= day_start(rule.before, zone):
        return False
    return rule.within is None or item.occurred_at >= now - rule.within


def matches(rule: Rule, history: SupporterHistory, *, now: datetime, zone: ZoneInfo) -> bool:
    """Tell whether one rule holds for one supporter at `now`.

    Reference oracle for tests: the bot selects with SQL (storage/audience.py).
    """
    if rule.interaction is not None:
        hits = sum(
            _interaction_matches(rule, item, now=now, zone=zone) for item in history.interactions
        )
        return hits >= rule.min_count
    if rule.donated is not None:
        return bool(history.gifts) == rule.donated
    if rule.donated_within is not None:
        least = (rule.min_amount or 0) * MILLI
        return any(
            gift.donated_at >= now - rule.donated_within
            and gift.amount_minor * milli_factor(gift.currency) >= least
            for gift in history.gifts
        )
    if rule.gave_at_least is not None:
        total = sum(gift.amount_minor * milli_factor(gift.currency) for gift in history.gifts)
        return total >= rule.gave_at_least * MILLI
    if rule.tag is not None:
        return rule.tag in history.tags
    if rule.influence_at_least is not None:
        return history.influence >= rule.influence_at_least
    return history.language == rule.language


def audience_label(
    audience: Audience, history: SupporterHistory, *, now: datetime, zone: ZoneInfo
) -> str | None:
    """Return the label of the first `any` rule that admits the supporter, or None if out.

    Reference oracle for tests: the bot selects and labels with SQL (storage/audience.py).
    """
    if not all(matches(rule, history, now=now, zone=zone) for rule in audience.all):
        return None
    if any(matches(rule, history, now=now, zone=zone) for rule in audience.exclude):
        return None
    if not audience.any:
        return fallback_label(audience)
    for index, rule in enumerate(audience.any):
        if matches(rule, history, now=now, zone=zone):
            return group_label("any", index, rule)
    return None
