"""Benchmark: how often weekly looks call an A/A campaign significant, fixed-horizon vs sequential.

Usage: .venv/bin/python benchmarks/peeking.py [--campaigns N] [--weeks W] [--lift L] [--seed S]

Each simulated campaign asks a few hundred to a few thousand members (uniform 300..3,000) at
launch, split 45/45/10 into specific, broadcast and holdout arms; the specific-versus-broadcast
comparison is read once a week for W weeks. Every member gives at most once, with a donation
rate drawn uniformly from 2-10%; gifts come in over the weeks front-loaded (each week brings
0.6 times the previous week's share). The baseline rate the sequential method is tuned with is
the true rate times a log-normal planning error (sigma 0.5), since nobody knows it exactly.

For every campaign and look both verdicts come from the production functions:
- fixed-horizon: the report's rule before issue 16 (two_proportion_test p < 0.05, the Newcombe
  interval excludes zero, at least 30 recipients per arm), once per look;
- sequential: rate_difference_sequence's always-valid interval excludes zero (same minimum).
Printed: the share of campaigns ever called significant over the looks, and at the last look
only; first for A/A campaigns (both arms share the rate: every call is a false positive), then
for A/B campaigns whose specific arm has a true relative lift L (every call is a true one, so
the gap shows the cost in power). Target: the sequential method at most 5% on A/A.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.sequential import rate_difference_sequence
from bot.domain.stats import newcombe_difference, two_proportion_test

ALPHA = 0.05
MIN_PER_ARM = 30
WEIGHTS = (0.45, 0.45, 0.10)
WEEKLY_DECAY = 0.6
PLANNING_ERROR = 0.5


@dataclass(frozen=True)
class Campaign:
    """One simulated campaign: arm sizes, cumulative donors per week, and the planned rate."""

    sizes: tuple[int, int]
    donors_a: list[int]  # cumulative, one entry per week
    donors_b: list[int]
    planned_rate: float


def simulate(rng: np.random.Generator, count: int, weeks: int, lift: float) -> list[Campaign]:
    """Draw `count` campaigns; arm a (specific) has rate p * (1 + lift), arm b rate p."""
    share = WEEKLY_DECAY ** np.arange(weeks)
    share /= share.sum()
    campaigns = []
    for _ in range(count):
        members = int(rng.integers(300, 3001))
        n_a, n_b, _holdout = (int(v) for v in rng.multinomial(members, WEIGHTS))
        p = float(rng.uniform(0.02, 0.10))
        cumulative = []
        for n, rate in ((n_a, p * (1.0 + lift)), (n_b, p)):
            donors = int(rng.binomial(n, min(rate, 1.0)))
            cumulative.append([int(v) for v in np.cumsum(rng.multinomial(donors, share))])
        guess = float(np.clip(p * np.exp(rng.normal(0.0, PLANNING_ERROR)), 0.005, 0.5))
        campaigns.append(Campaign((n_a, n_b), cumulative[0], cumulative[1], guess))
    return campaigns


def fixed_horizon_says(x1: int, n1: int, x2: int, n2: int) -> bool:
    """Apply the report's single-look rule: p < alpha and the Newcombe interval excludes zero."""
    if min(n1, n2) < MIN_PER_ARM:
        return False
    diff = newcombe_difference(x1, n1, x2, n2, 1.0 - ALPHA)
    p = two_proportion_test(x1, n1, x2, n2).p_value
    return diff is not None and p < ALPHA and diff.interval.excludes_zero


def sequential_says(x1: int, n1: int, x2: int, n2: int, planned_rate: float) -> bool:
    """Apply the always-valid rule: the confidence sequence excludes zero."""
    if min(n1, n2) < MIN_PER_ARM:
        return False
    seq = rate_difference_sequence(x1, n1, x2, n2, planned_rate=planned_rate, alpha=ALPHA)
    return seq is not None and seq.significant


def tally(campaigns: list[Campaign]) -> dict[str, float]:
    """Return the shares ever called significant and called at the last look, per method."""
    ever_fixed = ever_seq = last_fixed = last_seq = 0
    for c in campaigns:
        n1, n2 = c.sizes
        fixed = [
            fixed_horizon_says(a, n1, b, n2) for a, b in zip(c.donors_a, c.donors_b, strict=True)
        ]
        seq = [
            sequential_says(a, n1, b, n2, c.planned_rate)
            for a, b in zip(c.donors_a, c.donors_b, strict=True)
        ]
        ever_fixed += any(fixed)
        ever_seq += any(seq)
        last_fixed += fixed[-1]
        last_seq += seq[-1]
    total = len(campaigns)
    return {
        "fixed_ever": ever_fixed / total,
        "fixed_last": last_fixed / total,
        "seq_ever": ever_seq / total,
        "seq_last": last_seq / total,
    }


def print_table(title: str, shares: dict[str, float], count: int) -> None:
    """Print one side-by-side block of shares with their simulation standard error."""

    def cell(p: float) -> str:
        return f"{100 * p:5.1f}% ± {100 * (p * (1 - p) / count) ** 0.5:3.1f}"

    print(title)
    print(f"  {'':38} {'ever (any look)':>17} {'last look only':>17}")
    print(
        f"  {'fixed-horizon test, read every week':38} {cell(shares['fixed_ever']):>17} "
        f"{cell(shares['fixed_last']):>17}"
    )
    print(
        f"  {'always-valid confidence sequence':38} {cell(shares['seq_ever']):>17} "
        f"{cell(shares['seq_last']):>17}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=2000, help="per scenario (A/A, A/B)")
    parser.add_argument("--weeks", type=int, default=8, help="weekly looks")
    parser.add_argument("--lift", type=float, default=0.5, help="true relative lift in A/B")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    null = simulate(rng, args.campaigns, args.weeks, 0.0)
    true = simulate(rng, args.campaigns, args.weeks, args.lift)
    print(
        f"{args.campaigns:,} campaigns per scenario, 300-3,000 members, donation rate 2-10%, "
        f"{args.weeks} weekly looks, alpha {ALPHA}, seed {args.seed}"
    )
    aa = tally(null)
    print_table("A/A (no true difference: every call is a false positive)", aa, args.campaigns)
    ab = tally(true)
    print_table(
        f"A/B (specific arm +{100 * args.lift:.0f}% relative: every call is a true positive)",
        ab,
        args.campaigns,
    )
    ok = aa["seq_ever"] <= ALPHA
    print(
        f"{'ok  ' if ok else 'FAIL'} sequential A/A false positives ever: "
        f"{100 * aa['seq_ever']:.1f}% (target at most {100 * ALPHA:.0f}%)"
    )
    print(f"elapsed {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
