"""Campaign files: the museum example loads, and every broken file is rejected at file:line."""

from __future__ import annotations

import ast
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bot.cli import app
from bot.domain.campaign import (
    MAX_FILE_BYTES,
    CampaignInvalid,
    SpecError,
    dump_campaign,
    load_campaign,
    load_campaigns,
)
from bot.domain.durations import format_duration, parse_duration
from bot.domain.spec import Campaign
from bot.domain.templating import MessageContext, render_message

ROOT = Path(__file__).resolve().parents[1]
MUSEUM = ROOT / "campaigns" / "museum-winter-appeal.yaml"
CORPUS = Path(__file__).resolve().parent / "campaigns_broken"
CORPUS_FILES = sorted(CORPUS.glob("*.y*ml"))


def expected(path: Path, tag: str = "expect") -> list[str]:
    """Read the `# expect: LINE: FIELD: MESSAGE` lines a corpus file carries about itself."""
    prefix = f"# {tag}: "
    return [
        f"{path}:{line.removeprefix(prefix).replace('{dir}', str(CORPUS))}"
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(prefix)
    ]


def minimal(**overrides: object) -> dict[str, object]:
    """Give the fields of a small valid campaign, with some replaced."""
    data: dict[str, object] = {
        "name": "small",
        "title": "A small campaign",
        "organisation": "Test Org",
        "donate_url": "https://donate.example.org/give?fund=winter",
        "arms": {"specific": {"kind": "specific", "weight": 1, "message": "ask"}},
        "messages": {"ask": {"en": 'Hi {{ name }}, <a href="{{ donate_link }}">give</a>'}},
    }
    return data | overrides


def test_the_corpus_covers_every_kind_of_mistake() -> None:
    stems = {path.stem for path in CORPUS_FILES}
    assert {
        "syntax-error", "unknown-key-in-rule", "unknown-key-top", "wrong-type", "bad-date",
        "unknown-template-variable", "weight-zero", "weight-negative", "template-too-long",
        "missing-message-key", "bad-timezone", "bad-hours", "two-subjects", "duplicate-a",
        "duplicate-b", "sandbox-escape", "unguarded-history", "yaml-tag", "yaml-aliases",
        "template-nested-loops", "template-repetition",
    } <= stems  # fmt: skip


@pytest.mark.parametrize("path", [p for p in CORPUS_FILES if expected(p)], ids=lambda p: p.stem)
def test_broken_file_is_rejected_naming_file_line_and_field(path: Path) -> None:
    with pytest.raises(CampaignInvalid) as caught:
        load_campaign(path)
    assert [str(error) for error in caught.value.errors] == expected(path)
    assert str(caught.value) == "\n".join(expected(path))


def test_duplicate_names_are_fine_alone_and_rejected_together() -> None:
    first = load_campaign(CORPUS / "duplicate-a.yml")
    second = load_campaign(CORPUS / "duplicate-b.yaml")
    assert first.name == second.name == "duplicated"
    result = load_campaigns(CORPUS)
    assert list(result.campaigns) == ["duplicated"]
    assert result.campaigns["duplicated"].source_file == str(CORPUS / "duplicate-a.yml")
    assert f"{CORPUS}/duplicate-b.yaml:2: name: campaign name 'duplicated' is already used in " \
        f"{CORPUS}/duplicate-a.yml:1" in [str(e) for e in result.errors]  # fmt: skip


def test_load_campaigns_collects_the_errors_of_every_file() -> None:
    result = load_campaigns(CORPUS)
    wanted = [
        line for p in CORPUS_FILES for line in expected(p) + expected(p, "expect-in-directory")
    ]
    assert sorted(str(error) for error in result.errors) == sorted(wanted)
    assert len({error.file for error in result.errors}) == len(CORPUS_FILES) - 1
    assert not result.ok


def test_spec_error_carries_its_parts() -> None:
    error = load_campaigns(CORPUS).errors[0]
    assert isinstance(error, SpecError)
    assert str(error) == f"{error.file}:{error.line}: {error.field}: {error.message}"
    assert str(SpecError("x.yaml", None, "", "cannot be read")) == "x.yaml: cannot be read"


def test_museum_campaign_loads_with_typed_values() -> None:
    campaign = load_campaign(MUSEUM)
    assert campaign.name == "museum-winter-appeal"
    assert campaign.organisation == "Harbour Museum"
    assert campaign.weights() == {"specific": 0.8, "broadcast": 0.2}
    assert campaign.sending_arms() == ["specific", "broadcast"]
    assert campaign.arm("specific").message == "personal"
    assert campaign.start == datetime(2026, 12, 1, 10, 0)
    assert campaign.start_at("UTC") == datetime(
        2026, 12, 1, 10, tzinfo=ZoneInfo("Europe/Amsterdam")
    )
    assert campaign.spread == timedelta(days=2)
    assert campaign.attribution_window == timedelta(days=14)
    assert campaign.send_window.days == ["mon", "tue", "wed", "thu", "fri", "sat"]
    assert campaign.send_window.minutes == (600, 1200)
    audience = campaign.audience
    assert audience.any[0].since == date(2026, 1, 1)
    assert audience.any[1].sentiment == "positive"
    assert audience.exclude[0].subject == "donated_within"
    assert audience.exclude[0].donated_within == timedelta(days=30)
    assert (audience.order_by, audience.limit) == ("engagement", 500)
    assert [campaign.follow_up_arms(step) for step in campaign.follow_ups] == [
        ["specific"],
        ["broadcast"],
    ]
    assert campaign.follow_ups[0].after == timedelta(days=3)
    assert campaign.broadcast_post is not None
    assert campaign.broadcast_post.chat == "@harbourmuseum"
    assert campaign.broadcast_post.at == datetime(2026, 12, 2, 12, 0)
    assert campaign.thank_you == "thanks"
    line = campaign.source_line(("messages", "personal", "nl"))
    assert line is not None
    assert MUSEUM.read_text(encoding="utf-8").splitlines()[line - 1] == "    nl: |"
    with pytest.raises(KeyError, match="no arm 'holdout'"):
        campaign.arm("holdout")


def test_museum_personal_ask_names_what_the_supporter_enjoyed() -> None:
    campaign = load_campaign(MUSEUM)
    context = MessageContext(
        today=date(2026, 12, 1),
        first_name="Sanne",
        language="nl",
        donate_link="https://bot.example.org/l/abc",
        interactions=[("visited_exhibition", "Ships in Bottles", datetime(2026, 3, 14, 11))],
    )
    text = render_message(campaign, "personal", context)
    assert text.startswith("Beste Sanne,\n\nIn maart kwam je bij ons kijken naar <i>Ships in")
    assert '<a href="https://bot.example.org/l/abc">' in text
    generic = render_message(campaign, "generic", context)
    assert "Sanne" not in generic and "Ships" not in generic


def test_valid_campaign_round_trips_through_yaml(tmp_path: Path) -> None:
    campaign = load_campaign(MUSEUM)
    written = tmp_path / "again.yaml"
    written.write_text(dump_campaign(campaign), encoding="utf-8")
    again = load_campaign(written)
    assert again.model_dump() == campaign.model_dump()
    assert "attribution_window" not in written.read_text()  # defaults stay implicit
    assert "donated_within: 30d" in written.read_text()


def test_campaign_survives_a_json_snapshot() -> None:
    campaign = load_campaign(MUSEUM)
    again = Campaign.model_validate_json(campaign.model_dump_json())
    assert again.model_dump() == campaign.model_dump()
    assert '"attribution_window":"2w"' in campaign.model_dump_json()


def test_validation_also_guards_campaigns_built_in_code() -> None:
    Campaign.model_validate(minimal())
    with pytest.raises(ValidationError, match="no message called 'other'"):
        Campaign.model_validate(
            minimal(arms={"specific": {"kind": "specific", "weight": 1, "message": "other"}})
        )


def test_yaml_dates_become_dates_and_quoted_dates_are_read_too() -> None:
    campaign = Campaign.model_validate(
        minimal(start="2026-12-01T10:00:00", audience={"any": [{"tag": "x"}], "all": [
            {"interaction": "event", "since": "2026-02-01", "before": date(2026, 3, 1)}
        ]})
    )  # fmt: skip
    assert campaign.start == datetime(2026, 12, 1, 10)
    assert campaign.audience.all[0].since == date(2026, 2, 1)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"tag": "press", "since": "2026-01-01"}, "since only apply to interaction rules"),
        ({"donated": True, "min_amount": 500}, "min_amount only applies to donated_within"),
        (
            {"interaction": "event", "since": "2026-02-01", "before": "2026-01-01"},
            "must be before",
        ),
        ({}, "got none"),
        ({"interaction": "event", "min_count": 0}, "greater than or equal to 1"),
        ({"donated": "yes"}, "valid boolean"),
    ],
)
def test_rules_reject_what_does_not_make_sense(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Campaign.model_validate(minimal(audience={"any": [rule]}))


def test_rule_detail_glob_becomes_an_escaped_like_pattern() -> None:
    campaign = Campaign.model_validate(
        minimal(audience={"any": [{"interaction": "visited_exhibition", "detail": "50%_ships*"}]})
    )
    rule = campaign.audience.any[0]
    assert rule.detail_is_glob
    assert rule.detail_like() == "50\\%\\_ships%"


def test_send_window_opens_on_the_next_allowed_day() -> None:
    window = load_campaign(MUSEUM).send_window
    saturday_evening = datetime(2026, 12, 5, 21, 0)
    assert not window.is_open(saturday_evening)
    assert window.next_open(saturday_evening) == datetime(2026, 12, 7, 10, 0)
    assert window.next_open(datetime(2026, 12, 7, 9, 59)) == datetime(2026, 12, 7, 10, 0)
    assert window.next_open(datetime(2026, 12, 7, 12, 0)) == datetime(2026, 12, 7, 12, 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)),
     ("2w", timedelta(weeks=2)), ("1d12h", timedelta(hours=36))],
)  # fmt: skip
def test_durations_parse_and_format_back(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["30", "0d", "3 days", "", "d", "-1d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "1: must be a mapping of campaign fields (got an empty file)"),
        ("name: a\nname: b\n", '2: YAML syntax error: found duplicate key "name"'),
        ("name: a\n\tbad: tab\n", "2: YAML syntax error:"),
    ],
)
def test_unusable_files_are_reported_at_a_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CampaignInvalid) as caught:
        load_campaign(path)
    assert str(caught.value.errors[0]).startswith(f"{path}:{message}")


def test_a_file_that_is_not_text_is_reported_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(CampaignInvalid, match=r"c\.yaml: cannot be read"):
        load_campaign(path)


def test_nested_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    # Nine levels of nine aliases would be 387 million strings once copied into plain data.
    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    rows += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(CampaignInvalid) as caught:
        load_campaign(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:1: YAML feature not supported: anchors and aliases (&name, *name) are not "
        "supported; write the value out"
    ]


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    text = MUSEUM.read_text(encoding="utf-8")
    path.write_text(text + "#" * (MAX_FILE_BYTES - len(text.encode())) + "\n", encoding="utf-8")
    with pytest.raises(CampaignInvalid) as caught:
        load_campaign(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}: is larger than 256 KiB, the most a campaign file may be"
    ]
    path.write_text(text + "#" * (MAX_FILE_BYTES - len(text.encode()) - 1) + "\n")
    assert load_campaign(path).name == "museum-winter-appeal"


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("name: x\ntitle: !!binary aGVsbG8=\n", 2, "YAML feature not supported: the tag"),
        ("name: !!python/object:os.system x\n", 1, "YAML feature not supported: the tag"),
        ("name: x\ntitle: !!set {a, b}\n", 2, "YAML feature not supported: the tag"),
        ("name: x\ntitle: " + "[" * 5000 + "]" * 5000 + "\n", 2, "YAML syntax error: nested"),
        ("name: x\n? [a, b]\n: c\n", 1, ""),
        ("name: x\n1: 2\n", 1, ""),
        ("---\nname: x\n---\nname: y\n", 3, "YAML syntax error: but found another document"),
        ("name: x\nname: y\n", 2, "YAML syntax error: "),
        ("name: x\ntitle: y\n<<: {organisation: z}\n", 1, ""),
        ("name: 'x\0'\n", 1, "YAML syntax error: unacceptable character #x0000"),
    ],
)
def test_odd_yaml_is_a_file_line_error_never_a_traceback(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CampaignInvalid) as caught:
        load_campaign(path)
    first = caught.value.errors[0]
    assert (first.file, first.line) == (str(path), line)
    assert str(first).startswith(f"{path}:{line}: {message}")


def test_missing_directory_is_one_error(tmp_path: Path) -> None:
    result = load_campaigns(tmp_path / "nope")
    assert [str(e) for e in result.errors] == [f"{tmp_path / 'nope'}: is not a directory"]


def test_each_spec_model_is_imported_from_the_spec_module_only() -> None:
    from bot.domain import campaign, spec

    assert not set(spec.__all__) & set(campaign.__all__)
    through_loader = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name}"
        for folder in ("bot", "tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "bot.domain.campaign"
        for alias in node.names
        if alias.name in spec.__all__
    ]
    assert through_loader == []


def test_validate_reports_every_bad_file_and_still_checks_the_others() -> None:
    result = CliRunner().invoke(
        app, ["validate", str(CORPUS / "yaml-tag.yaml"), str(CORPUS), str(MUSEUM)]
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = "".join(result.output.split())  # the console may wrap long lines anywhere
    for where in ("yaml-tag.yaml:3:", "yaml-aliases.yaml:9:", "template-nested-loops.yaml:10:",
                  "template-repetition.yaml:9:", "syntax-error.yaml:"):  # fmt: skip
        assert where in text
    assert text.count("yaml-tag.yaml:3:") == 2  # alone, and with its directory
    assert f"ok:{MUSEUM}" in text
