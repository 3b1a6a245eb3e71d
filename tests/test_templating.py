"""Message templates: escaping, languages, history variables, sandbox and Telegram's limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.domain.campaign import CampaignInvalid, load_campaign
from bot.domain.message_length import MESSAGE_MAX_UTF16
from bot.domain.spec import Campaign
from bot.domain.templating import (
    MessageContext,
    TemplateRenderError,
    TemplateTooLong,
    render_message,
    telegram_html_problems,
    telegram_length,
)

MUSEUM = Path(__file__).resolve().parents[1] / "campaigns" / "museum-winter-appeal.yaml"
TODAY = date(2026, 12, 1)


def campaign_with(messages: dict[str, dict[str, str]], **fields: object) -> Campaign:
    """Build a valid campaign whose first message is the ask."""
    first = next(iter(messages))
    data: dict[str, object] = {
        "name": "tpl",
        "title": "Templates",
        "organisation": "Harbour Museum",
        "donate_url": "https://donate.example.org/x",
        "audience": {"any": [{"interaction": "visited_exhibition"}, {"interaction": "event"}]},
        "arms": {"specific": {"kind": "specific", "weight": 1, "message": first}},
        "messages": messages,
    }
    return Campaign.model_validate(data | fields)


def unchecked(campaign: Campaign, key: str, language: str, source: str) -> Campaign:
    """Swap in a template without validation, as if it had slipped past the loader."""
    messages = {k: dict(v) for k, v in campaign.messages.items()}
    messages.setdefault(key, {})[language] = source
    return campaign.model_copy(update={"messages": messages})


def supporter(**fields: object) -> MessageContext:
    """Give a supporter context dated TODAY."""
    return MessageContext(today=TODAY, **fields)  # type: ignore[arg-type]


def test_html_in_supporter_fields_is_escaped_but_staff_html_is_kept() -> None:
    campaign = campaign_with({"ask": {"en": "<b>Dear</b> {{ first_name }} {{ last_name }}"}})
    text = render_message(
        campaign, "ask", supporter(first_name="<b>Eve</b>", last_name="Smith & Sons")
    )
    assert text == "<b>Dear</b> &lt;b&gt;Eve&lt;/b&gt; Smith &amp; Sons"
    assert telegram_html_problems(text) == []


def test_history_detail_is_escaped_too() -> None:
    campaign = campaign_with(
        {"ask": {"en": "{% if last.event %}{{ last.event.detail }}{% endif %}"}}
    )
    context = supporter(interactions=[("event", "<script>x</script>", date(2026, 5, 1))])
    assert render_message(campaign, "ask", context) == "&lt;script&gt;x&lt;/script&gt;"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("nl", "Hallo vriend"), ("nl-BE", "Hallo vriend"), ("NL", "Hallo vriend"),
     ("fr", "Hello friend"), (None, "Hello friend"), ("en", "Hello friend")],
)  # fmt: skip
def test_language_falls_back_to_the_campaign_default(language: str | None, expected: str) -> None:
    campaign = campaign_with({"ask": {"en": "Hello {{ name }}", "nl": "Hallo {{ name }}"}})
    assert render_message(campaign, "ask", supporter(language=language)) == expected


def test_default_language_is_used_when_the_supporter_language_is_missing() -> None:
    campaign = campaign_with(
        {"ask": {"nl": "Hallo {{ name }}", "en": "Hi {{ name }}"}}, default_language="nl"
    )
    assert (
        render_message(campaign, "ask", supporter(language="de", first_name="Eva")) == "Hallo Eva"
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "March|December|1 December 2026|March 2026"),
     ("nl", "maart|december|1 december 2026|maart 2026"),
     ("de", "März|Dezember|1. Dezember 2026|März 2026")],
)  # fmt: skip
def test_month_names_and_dates_follow_the_language(language: str, expected: str) -> None:
    source = (
        "{% if last.visited_exhibition %}{{ last.visited_exhibition.month }}{% endif %}|"
        "{{ today | month_name }}|{{ today | date }}|"
        "{% if last.visited_exhibition %}{{ last.visited_exhibition.date | date('month') }}"
        "{% endif %}"
    )
    campaign = campaign_with({"ask": {"en": source, language: source}})
    context = supporter(
        language=language, interactions=[("visited_exhibition", "Ships", date(2026, 3, 9))]
    )
    assert render_message(campaign, "ask", context) == expected


def test_last_holds_the_latest_interaction_of_each_kind() -> None:
    source = (
        "{% if last.visited_exhibition %}{{ last.visited_exhibition.detail }} "
        "{{ last.visited_exhibition.days_ago }} {{ last.visited_exhibition.year }}{% endif %}"
    )
    campaign = campaign_with({"ask": {"en": source}})
    context = supporter(
        interactions=[
            ("visited_exhibition", "Old Maps", datetime(2025, 6, 1, 15)),
            ("visited_exhibition", "Ships in Bottles", datetime(2026, 11, 21, 10)),
            ("comment", "lovely", date(2026, 11, 30)),
        ]
    )
    assert render_message(campaign, "ask", context) == "Ships in Bottles 10 2026"


@pytest.mark.parametrize(
    "guard",
    [
        "{% if last.event %}{{ last.event.detail }}{% else %}none{% endif %}",
        "{% if last.event is defined %}{{ last.event.detail }}{% else %}none{% endif %}",
        "{% if last.get('event') %}{{ last['event'].detail }}{% else %}none{% endif %}",
        "{% if 'event' in last %}{{ last.event.detail }}{% else %}none{% endif %}",
    ],
)
def test_guarded_history_renders_with_and_without_it(guard: str) -> None:
    campaign = campaign_with({"ask": {"en": guard}})
    assert render_message(campaign, "ask", supporter()) == "none"
    context = supporter(interactions=[("event", "Open day", date(2026, 9, 1))])
    assert render_message(campaign, "ask", context) == "Open day"


def test_unguarded_history_fails_clearly_for_a_supporter_without_it() -> None:
    campaign = unchecked(
        campaign_with({"ask": {"en": "x"}}), "ask", "en", "You saw {{ last.event.detail }}"
    )
    with pytest.raises(TemplateRenderError) as caught:
        render_message(campaign, "ask", supporter())
    assert str(caught.value) == (
        "message 'ask' (en): this supporter has no 'event' in their history; "
        "guard it with {% if last.event %}"
    )


def test_strict_undefined_refuses_unknown_variables_and_attributes() -> None:
    base = campaign_with({"ask": {"en": "x"}})
    with pytest.raises(TemplateRenderError, match="'frist_name' is undefined"):
        render_message(unchecked(base, "ask", "en", "Hi {{ frist_name }}"), "ask", supporter())
    with pytest.raises(TemplateRenderError, match="has no attribute 'titel'"):
        render_message(unchecked(base, "ask", "en", "{{ campaign.titel }}"), "ask", supporter())
    with pytest.raises(ValidationError, match="unknown variable 'frist_name'"):
        campaign_with({"ask": {"en": "Hi {{ frist_name }}"}})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ name.__init__.__globals__ }}",
        "{{ last._items }}",
        "{{ campaign.__class__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% set x = [] %}{{ x.append(1) }}",
    ],
)
def test_sandbox_blocks_escapes(source: str) -> None:
    campaign = unchecked(campaign_with({"ask": {"en": "x"}}), "ask", "en", source)
    with pytest.raises(TemplateRenderError, match="unsafe access blocked"):
        render_message(campaign, "ask", supporter(first_name="Eve"))


@pytest.mark.parametrize(
    "source",
    [
        "{{ last.visited_exhibition.__class__ }}",
        "{{ last.visited_exhibition.__dict__ }}",
        "{{ last.visited_exhibition.date.__class__.__mro__ }}",
        "{{ last.visited_exhibition.detail.__class__ }}",
        "{{ last.__getattr__.__globals__ }}",
        "{{ last._items }}",
        "{{ last.__dict__ }}",
        "{{ gift.__class__.__init__.__globals__ }}",
        "{{ gift.__dict__ }}",
        "{{ gift.amount.__class__ }}",
        "{{ last.visited_exhibition.detail.format.__globals__ }}",
    ],
)
def test_sandbox_still_guards_the_history_and_gift_read_without_checks(source: str) -> None:
    campaign = unchecked(campaign_with({"ask": {"en": "x"}}), "ask", "en", source)
    visit = ("visited_exhibition", "Ships", datetime(2026, 1, 10, 12, 0))
    who = supporter(interactions=[visit], gift_amount_minor=2500, gift_currency="EUR")
    with pytest.raises(TemplateRenderError, match="unsafe access blocked"):
        render_message(campaign, "ask", who)


def test_history_and_gift_fields_and_the_mappings_methods_still_read_as_documented() -> None:
    source = (
        "{{ last.visited_exhibition.detail }} {{ last.visited_exhibition.month }} "
        "{{ last.visited_exhibition.year }} {{ last.visited_exhibition.days_ago }} "
        "{{ last.visited_exhibition.date | date('iso') }} {{ last.visited_exhibition.kind }} "
        "{{ gift.amount }} {{ gift.currency }} {{ gift }} {{ last['visited_exhibition'].detail }} "
        "{{ last.keys() | join(',') }} {{ last.items() | list | length }} "
        "{% if last.event %}never{% else %}none{% endif %}"
    )
    campaign = unchecked(campaign_with({"ask": {"en": "x"}}), "ask", "en", source)
    visit = ("visited_exhibition", "Ships", datetime(2026, 1, 10, 12, 0))
    who = supporter(interactions=[visit], gift_amount_minor=2500, gift_currency="EUR")
    assert render_message(campaign, "ask", who) == (
        "Ships January 2026 " + str((TODAY - date(2026, 1, 10)).days)
        + " 2026-01-10 visited_exhibition €25.00 EUR €25.00 Ships "
        "visited_exhibition 1 none"
    )  # fmt: skip


def test_sandbox_escape_is_also_rejected_at_validation() -> None:
    with pytest.raises(ValidationError, match="unsafe access blocked"):
        campaign_with({"ask": {"en": "{{ ''.__class__ }}"}})


def within(seconds: float, work: Callable[[], object]) -> BaseException | None:
    """Run work in a thread; fail if it is still running after `seconds`; return its error."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            work()
            outcome.append(None)
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


BIG = "{% set big = 'x' * 30000 %}"
BOMBS = [
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
     "does too much work"),
    (BIG + "{% for a in big %}{% for b in big %}{% if a == b %}{% endif %}{% endfor %}"
     "{% endfor %}", "does too much work"),
    ("{{ 'x' * 1000000000 }}", "asks for 1000000000 characters with '*'"),
    ("{{ 'ab' * 10 ** 9 }}", "asks for 2000000000 characters with '*'"),
    ("{{ [1, 2] * 10 ** 9 }}", "asks for 2000000000 items with '*'"),
    ("{{ 2 ** 100000000 }}", "number of over 1024 bits with '**'"),
    ("{{ 'x'|center(1000000000) }}", "1000000000 characters with filter 'center'"),
    ("{{ 'x'.ljust(1000000000) }}", "1000000000 characters with '.ljust()'"),
    ("{{ '%999999999d' % 1 }}", "999999999 characters with '%'"),
    ("{{ '%*d' % (999999999, 1) }}", "'%' may not take its width from an argument"),
    ("{{ '{:>999999999}'.format(1) }}", "999999999 characters with '.format()'"),
    ("{{ '%999999999s'|format(1) }}", "999999999 characters with format"),
    ("{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s|length }}", "with '~'"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
     "{{ f(40) }}", "does too much work"),
    (BIG + "{% set out %}{% for i in range(10000) %}{{ big }}{% endfor %}{% endset %}"
     "{{ out|length }}", "does too much work"),
    (BIG + "{{ big|replace('x', big) }}", "characters with replace"),
    (BIG + "{{ big.replace('x', big) }}", "characters with replace"),
    ("{{ range(100000)|join(',') }}", "characters with join"),
    (BIG + "{{ big|wordwrap(1, wrapstring=big) }}", "characters with wordwrap"),
    (BIG + "{{ ('x\n' * 10000)|indent(big) }}", "characters with indent"),
    ("{{ [1]|batch(1000000000, 0)|list }}", "1000000000 characters with filter 'batch'"),
    ("{% for i in range(9000) %}{{ i }}{% endfor %}", "writes more than 32768 characters"),
    ("{{ lipsum(100000) }}", "lipsum"),
    ("{% for x in range(2) recursive %}{% if loop.depth < 3 %}{{ loop(range(100000)) }}"
     "{% endif %}{% endfor %}", "does too much work"),
    ("{{ ([[0] * 30000] * 1000)|sum(start=[]) }}", "filter 'sum' adds numbers only"),
    ("{{ (['x' * 3000] * 100)|map('string')|join }}", "characters with join"),
    ("{{ ''.join((['x' * 3000] * 100)|map('string')) }}", "characters with '.join()'"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "reason"), BOMBS)
def test_costly_templates_are_refused_quickly_at_send_and_at_validation(
    source: str, reason: str
) -> None:
    # The bomb only goes off for one supporter, so it slips past validation's samples.
    hidden = f"{{% if first_name == 'Mallory' %}}{source}{{% endif %}}Hi"
    campaign = unchecked(campaign_with({"ask": {"en": "Hi"}}), "ask", "en", hidden)
    assert render_message(campaign, "ask", supporter(first_name="Eve")) == "Hi"
    error = within(5, lambda: render_message(campaign, "ask", supporter(first_name="Mallory")))
    assert isinstance(error, TemplateRenderError)
    assert reason in error.reason
    error = within(5, lambda: campaign_with({"ask": {"en": source}}))
    assert isinstance(error, ValidationError)
    assert reason in str(error)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ '%05d' % 42 }} {{ 'x' ~ 1 ~ 'y' }}",
         "ababab 1024 00042 x1y"),
        ("{{ 'a'|center(5) }}|{{ ['a', 'b']|join('-') }}|{{ 'a b'|replace(' ', '_') }}",
         "  a  |a-b|a_b"),
        ("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}"
         "{% endfor %}{{ ns.n }}", "3"),
        ("{% macro greet(who) %}Hi {{ who }}{% endmacro %}{{ greet(name) }}", "Hi Eve"),
        ("{{ '{:>4}'.format(7) }}|{{ '%s and %s'|format(1, 2) }}", "   7|1 and 2"),
        ("{{ '-'.join(['a', 'b']|map('upper')) }}|{{ ['a', 'b']|map('upper')|join }}",
         "A-B|AB"),
        ("{% for x in [[1, [2]]] recursive %}{{ x if x is number else loop(x) }}{% endfor %}",
         "12"),
        ("{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}ok", "ok"),
    ],
)  # fmt: skip
def test_ordinary_templates_stay_within_the_budget(source: str, expected: str) -> None:
    campaign = campaign_with({"ask": {"en": source}})
    assert render_message(campaign, "ask", supporter(first_name="Eve")) == expected


def test_a_campaign_of_many_costly_messages_is_refused_as_a_whole_quickly() -> None:
    # Each message alone is allowed (about 18,000 steps); 500 of them would take minutes.
    costly = "{% for a in range(95) %}{% for b in range(95) %}{% set x = a ~ b %}{% endfor %}"
    messages = {f"m{n}": {"en": costly + "{% endfor %}ok"} for n in range(500)}
    error = within(10, lambda: campaign_with(messages))
    assert isinstance(error, ValidationError)
    assert (
        "together with the campaign's other messages does too much work (more than 200000 steps)"
        in str(error)
    )
    few = campaign_with(dict(list(messages.items())[:5]))
    assert render_message(few, "m4", supporter()) == "ok"


def test_message_over_4096_characters_fails_at_render_naming_key_and_language() -> None:
    source = "x" * 4000 + " {{ first_name }}"
    campaign = campaign_with({"ask": {"en": "short", "nl": source}})  # sample name fits
    assert len(render_message(campaign, "ask", supporter(language="nl", first_name="Eve"))) == 4004
    with pytest.raises(TemplateTooLong) as caught:
        render_message(campaign, "ask", supporter(language="nl", first_name="E" * 100))
    assert (caught.value.message_key, caught.value.language, caught.value.length) == (
        "ask",
        "nl",
        4101,
    )
    assert "at most 4096" in str(caught.value)


def test_message_over_4096_characters_fails_at_validation() -> None:
    with pytest.raises(ValidationError, match="renders to 4097 characters"):
        campaign_with({"ask": {"en": "y" * (MESSAGE_MAX_UTF16 + 1)}})


def test_length_counts_what_telegram_shows() -> None:
    assert telegram_length("<b>a&amp;b</b>") == 3
    assert telegram_length("👋") == 2  # one emoji is two UTF-16 code units


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<div>x</div>", "uses <div>"),
        ("<b>x", "never closes <b>"),
        ("<b><i>x</b></i>", "closes </b> where </i> was expected"),
        ("<a>x</a>", "<a> without href"),
        ("Tom & Jerry", "bare '&'"),
        ("1 < 2", "bare '<'"),
        ("&nbsp;", "&nbsp;"),
        ('<span class="x">x</span>', "tg-spoiler"),
    ],
)
def test_telegram_html_check_flags_what_telegram_refuses(text: str, problem: str) -> None:
    assert any(problem in found for found in telegram_html_problems(text))


def test_telegram_html_check_accepts_its_own_tags() -> None:
    text = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><s>s</s><tg-spoiler>t</tg-spoiler>"
        '<a href="https://x.org/?a=1&amp;b=2">l</a><code>c</code><pre>p</pre>'
        '<blockquote>q</blockquote><span class="tg-spoiler">x</span>&lt;&gt;&quot;&#128075;'
    )
    assert telegram_html_problems(text) == []


def test_a_template_problem_points_at_the_line_of_the_message(tmp_path: Path) -> None:
    museum = load_campaign(MUSEUM)
    line = museum.source_line(("messages", "personal", "nl"))
    assert line is not None
    lines = MUSEUM.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[line] == "      Beste {{ name }},\n"  # the first line of the Dutch text
    lines[line] = "      Beste {{ frist_name }},\n"
    broken = tmp_path / MUSEUM.name
    broken.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(CampaignInvalid) as caught:
        load_campaign(broken)
    assert [str(e) for e in caught.value.errors] == [
        f"{broken}:{line}: messages.personal.nl: unknown variable 'frist_name'; "
        "did you mean 'first_name'? (known: campaign, donate_link, first_name, gift, language, "
        "last, last_name, name, organisation, today, username)"
    ]


def test_every_museum_message_renders_for_every_language() -> None:
    campaign = load_campaign(MUSEUM)
    history = [
        ("visited_exhibition", "Ships in Bottles", date(2026, 3, 9)),
        ("comment", "Loved it", date(2026, 4, 2)),
    ]
    for key, templates in campaign.messages.items():
        for language in templates:
            for context in (
                supporter(language=language, donate_link="https://l/t"),
                supporter(
                    language=language,
                    first_name="Ann",
                    interactions=history,
                    donate_link="https://l/t",
                ),
            ):
                text = render_message(campaign, key, context)
                assert text.strip() and telegram_html_problems(text) == []
                assert "{{" not in text and "None" not in text


def test_unknown_message_key_is_a_clear_error() -> None:
    with pytest.raises(TemplateRenderError, match="no such message"):
        render_message(campaign_with({"ask": {"en": "x"}}), "thanks", supporter())


@pytest.mark.parametrize(
    ("language", "amount_minor", "currency", "expected"),
    [
        ("en", 2500, "EUR", "Thanks for €25.00 (EUR)"),
        ("nl", 2500, "eur", "Bedankt voor 25,00 € (EUR)"),
        ("en", 3000, "JPY", "Thanks for JPY 3,000 (JPY)"),
    ],
)
def test_gift_shows_the_amount_in_the_message_language(
    language: str, amount_minor: int, currency: str, expected: str
) -> None:
    campaign = campaign_with(
        {
            "thanks": {
                "en": "Thanks{% if gift %} for {{ gift.amount }} ({{ gift.currency }}){% endif %}",
                "nl": "Bedankt{% if gift %} voor {{ gift }} ({{ gift.currency }}){% endif %}",
            }
        }
    )
    context = supporter(language=language, gift_amount_minor=amount_minor, gift_currency=currency)
    assert render_message(campaign, "thanks", context) == expected
    assert render_message(campaign, "thanks", supporter(language=language)).startswith(
        ("Thanks", "Bedankt")
    )
    assert "gift" not in render_message(campaign, "thanks", supporter(language=language))


def test_unguarded_gift_fails_at_validation_and_clearly_at_render() -> None:
    with pytest.raises(ValidationError, match=r"guard it with \{% if gift %\}"):
        campaign_with({"thanks": {"en": "Thanks for {{ gift.amount }}"}})
    campaign = unchecked(
        campaign_with({"ask": {"en": "x"}}), "ask", "en", "Thanks for {{ gift.amount }}"
    )
    with pytest.raises(TemplateRenderError) as caught:
        render_message(campaign, "ask", supporter())
    assert str(caught.value) == (
        "message 'ask' (en): no gift is known for this message; guard it with {% if gift %}"
    )


def test_a_gift_needs_both_amount_and_currency() -> None:
    with pytest.raises(ValueError, match="both gift_amount_minor and gift_currency"):
        supporter(gift_amount_minor=2500)


def test_museum_thanks_names_the_gift_when_known() -> None:
    campaign = load_campaign(MUSEUM)
    gift = {"gift_amount_minor": 2500, "gift_currency": "EUR"}
    assert "gift of €25.00 helps" in render_message(campaign, "thanks", supporter(**gift))
    dutch = render_message(campaign, "thanks", supporter(language="nl", **gift))
    assert "gift van 25,00 € houden" in dutch
    assert "Your gift helps" in render_message(campaign, "thanks", supporter())
