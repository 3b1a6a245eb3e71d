"""Synthetic supporters with plausible histories, written as the CSV files staff would import."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

FIRST_NAMES = {
    "nl": [
        "Anouk",
        "Daan",
        "Eva",
        "Femke",
        "Joost",
        "Lotte",
        "Maarten",
        "Noor",
        "Pieter",
        "Sanne",
        "Thijs",
        "Wouter",
        "Ilse",
        "Bram",
        "Roos",
        "Jeroen",
    ],
    "en": [
        "Alice",
        "Ben",
        "Chloe",
        "David",
        "Emma",
        "Finn",
        "Grace",
        "Harry",
        "Isla",
        "Jack",
        "Lucy",
        "Oliver",
        "Ruth",
        "Sam",
        "Tom",
        "Zoe",
    ],
}
LAST_NAMES = {
    "nl": [
        "de Vries",
        "Jansen",
        "Bakker",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "Bos",
        "Vos",
        "Peters",
        "Hendriks",
    ],
    "en": [
        "Smith",
        "Jones",
        "Taylor",
        "Brown",
        "Wilson",
        "Evans",
        "Walker",
        "Wright",
        "Hughes",
        "Clarke",
        "Hall",
        "Wood",
    ],
}
ZONES = {"nl": ["Europe/Amsterdam"], "en": ["Europe/London", "Europe/London", "America/New_York"]}
EXHIBITIONS = [
    ("Ships of the Golden Age", datetime(2026, 2, 1)),
    ("The Lighthouse Keepers", datetime(2026, 4, 10)),
    ("Herring Fleet: Life at Sea", datetime(2026, 6, 1)),
    ("The Harbour at Night (photographs)", datetime(2026, 8, 15)),
    ("Knots and Sails: a workshop for families", datetime(2025, 10, 1)),
]
QUESTIONS = [
    "opening hours on holidays",
    "wheelchair access to the ship",
    "school group visits",
    "where the figurehead came from",
    "the lighthouse lens",
]
COMMENTS = [
    ("positive", "the guide on the ship was wonderful"),
    ("positive", "my kids loved the knot workshop"),
    ("positive", "beautiful night photographs"),
    ("neutral", "the café was busy"),
    ("negative", "too crowded on Sunday"),
]
SOURCES = ["expo-qr", "newsletter", "front-desk", "facebook"]


@dataclass
class SimulatedSupporter:
    """One invented supporter and the history the museum knows about them."""

    external_id: str
    telegram_user_id: int
    first_name: str
    last_name: str
    username: str
    language: str
    timezone: str
    source: str
    tags: list[str]
    interactions: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    gifts: list[tuple[int, datetime]] = field(default_factory=list)


def make_population(count: int, seed: int, today: datetime) -> list[SimulatedSupporter]:
    """Invent `count` supporters with histories drawn from a seeded generator."""
    rng = random.Random(seed)
    people = []
    for index in range(count):
        language = "nl" if rng.random() < 0.65 else "en"
        first = rng.choice(FIRST_NAMES[language])
        last = rng.choice(LAST_NAMES[language])
        if index == 7:
            first = "<b>Eve</b> & Co"  # a name with markup, to show it is escaped everywhere
        person = SimulatedSupporter(
            external_id=f"S{index + 1:06d}",
            telegram_user_id=700_000_000 + index,
            first_name=first,
            last_name=last,
            username=f"{first.lower()[:5]}{index}".replace("<", "").replace(">", ""),
            language=language,
            timezone=rng.choice(ZONES[language]),
            source=rng.choice(SOURCES),
            tags=[t for t in ("member", "volunteer", "family") if rng.random() < 0.12],
        )
        _history(person, rng, today)
        people.append(person)
    return people


def _history(person: SimulatedSupporter, rng: random.Random, today: datetime) -> None:
    for title, opened in EXHIBITIONS:
        if rng.random() < 0.35 and opened < today:
            when = opened + timedelta(days=rng.randint(0, 60), hours=rng.randint(10, 17))
            if when < today:
                person.interactions.append(("visited_exhibition", title, "", when))
    if rng.random() < 0.3:
        sentiment, text = rng.choice(COMMENTS)
        when = today - timedelta(days=rng.randint(5, 300))
        person.interactions.append(("comment", text, sentiment, when))
    if rng.random() < 0.2:
        when = today - timedelta(days=rng.randint(5, 300))
        person.interactions.append(("question_answered", rng.choice(QUESTIONS), "", when))
    if rng.random() < 0.15:
        when = today - timedelta(days=rng.randint(10, 400))
        person.gifts.append((rng.choice([1000, 1500, 2500, 5000]), when))


def write_csv_files(people: list[SimulatedSupporter], folder: Path) -> dict[str, Path]:
    """Write supporters, interactions and past donations as the importer's CSV formats."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / f"{k}.csv" for k in ("supporters", "interactions", "donations")}
    with paths["supporters"].open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "external_id",
                "first_name",
                "last_name",
                "username",
                "telegram_user_id",
                "language",
                "timezone",
                "tags",
                "source",
                "consent",
            ]
        )
        for p in people:
            out.writerow(
                [
                    p.external_id,
                    p.first_name,
                    p.last_name,
                    p.username,
                    p.telegram_user_id,
                    p.language,
                    p.timezone,
                    ";".join(p.tags),
                    p.source,
                    "yes",
                ]
            )
    with paths["interactions"].open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["external_id", "kind", "detail", "sentiment", "occurred_at", "source"])
        for p in people:
            for kind, detail, sentiment, when in p.interactions:
                out.writerow(
                    [
                        p.external_id,
                        kind,
                        detail,
                        sentiment,
                        when.isoformat(timespec="minutes"),
                        "museum-crm",
                    ]
                )
    with paths["donations"].open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["external_id", "provider_event_id", "amount", "currency", "donated_at", "provider"]
        )
        for p in people:
            for number, (amount, when) in enumerate(p.gifts):
                out.writerow(
                    [
                        p.external_id,
                        f"past-{p.external_id}-{number}",
                        f"{amount / 100:.2f}",
                        "EUR",
                        when.date().isoformat(),
                        "import",
                    ]
                )
    return paths
