"""The community report folds per-ask and per-referrer deep links into one row per family."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.public_asks import FOLDED_DEEP_LINKS, fold_deep_links

FIELDS = ("joined", "still_member", "active_30_days_after", "donors", "flagged")


def way(kind: str, name: str, joined: int, donors: int = 0, **amounts: int) -> dict[str, Any]:
    """A value-by-source row as storage returns it."""
    return {
        "kind": kind,
        "name": name,
        "joined": joined,
        "still_member": joined,
        "active_30_days_after": donors,
        "donors": donors,
        "flagged": 0,
        "amounts": dict(amounts),
    }


def test_asks_and_referrals_fold_and_the_rest_pass_unchanged() -> None:
    poster = way("invite link", "expo-ships", 24, 6, EUR=14500)
    # A named source may not start with a- or r-, but an invite link's name is Telegram's: kept.
    odd = way("invite link", "a-team", 3)
    rows = [
        poster,
        way("deep link", "a-Xy12", 1, 1, EUR=2500),
        way("deep link", "a-Zz99", 1, 1, EUR=1000, USD=500),
        way("deep link", "a-Qq00", 1),
        way("deep link", "r-abc", 2, 1, EUR=2500),
        odd,
    ]
    folded = fold_deep_links(rows)
    assert [(r["kind"], r["name"], r["joined"]) for r in folded] == [
        ("invite link", "expo-ships", 24),
        ("deep link", "public-reply buttons (a-…)", 3),
        ("invite link", "a-team", 3),
        ("deep link", "referral links (r-…)", 2),
    ]
    asks = folded[1]
    assert (asks["donors"], asks["amounts"]) == (2, {"EUR": 3500, "USD": 500})
    assert folded[0] is poster and folded[2] is odd


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["deep link", "invite link", "source"]),
            st.sampled_from(["a-1", "a-2", "r-1", "r-2", "expo", "news"]),
            st.integers(0, 50),
            st.integers(0, 50),
        ),
        max_size=12,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_folding_keeps_every_total(raw: list[tuple[str, str, int, int]]) -> None:
    rows = [
        way(kind, name, joined, donors, EUR=donors * 100) for kind, name, joined, donors in raw
    ]
    folded = fold_deep_links(rows)
    for field in FIELDS:
        assert sum(r[field] for r in folded) == sum(r[field] for r in rows)
    assert sum(r["amounts"].get("EUR", 0) for r in folded) == sum(d * 100 for *_, d in raw)
    names = [r["name"] for r in folded if r["kind"] == "deep link"]
    assert not any(n.startswith(("a-", "r-")) for n in names)
    assert len(names) == len(set(names))
    assert set(FOLDED_DEEP_LINKS.values()) >= {n for n in names if "…" in n}
    assert [r["joined"] for r in folded] == sorted((r["joined"] for r in folded), reverse=True)
