"""Bound what rendering one template may cost: steps of work, and the size of what it builds."""

from __future__ import annotations

import functools
import inspect
import operator
import re
import string
from collections.abc import Callable, Collection, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

# The most text any one step may build, and the most a whole render may write. A message
# Telegram accepts shows at most 4096 characters; with tags and links its HTML stays far below.
MAX_TEXT = 32_768
# The most items a list may hold; Jinja's sandbox caps range() at the same number.
MAX_ITEMS = 100_000
# The steps one render may take: a loop pass, a call, a filter, or 100 characters built; a
# macro call counts as MACRO_STEPS. Measured on a busy 2-core dev machine: the costliest
# templates we could write (loops writing output, substring tests on 30,000 characters, recursive
# macros) stop within about 40 ms; a real campaign message takes under 100 steps and 20-80 us.
MAX_STEPS = 20_000
MACRO_STEPS = 10
# Validation renders every message twice; a whole campaign gets ten renders' worth, so a file of
# thousands of costly messages is refused in well under a second instead of checked for minutes.
MAX_CAMPAIGN_STEPS = 10 * MAX_STEPS
CHARS_PER_STEP = 100
# Gift amounts and day counts need a few dozen bits; a googol needs 333.
MAX_INT_BITS = 1024


class RenderTooCostly(Exception):
    """A render that asked for more work or more text than one message may cost."""


@dataclass
class _Budget:
    steps_left: int


_BUDGET: ContextVar[_Budget | None] = ContextVar("render_budget", default=None)
_CAMPAIGN: ContextVar[_Budget | None] = ContextVar("campaign_budget", default=None)
CAMPAIGN_TOO_COSTLY = (
    f"together with the campaign's other messages does too much work (more than "
    f"{MAX_CAMPAIGN_STEPS} steps); simplify them"
)


@contextmanager
def render_budget() -> Iterator[None]:
    """Give the renders inside the block a fresh budget of MAX_STEPS steps."""
    token = _BUDGET.set(_Budget(MAX_STEPS))
    try:
        yield
    finally:
        _BUDGET.reset(token)


@contextmanager
def campaign_budget() -> Iterator[_Budget]:
    """Share MAX_CAMPAIGN_STEPS among all renders inside the block (validating one campaign)."""
    budget = _Budget(MAX_CAMPAIGN_STEPS)
    token = _CAMPAIGN.set(budget)
    try:
        yield budget
    finally:
        _CAMPAIGN.reset(token)


def _spend(steps: int) -> None:
    # Outside render_budget() (Jinja folding constants while compiling) only sizes are checked.
    budget = _BUDGET.get()
    if budget is None:
        return
    campaign = _CAMPAIGN.get()
    if campaign is not None:
        campaign.steps_left -= steps
        if campaign.steps_left < 0:
            raise RenderTooCostly(CAMPAIGN_TOO_COSTLY)
    budget.steps_left -= steps
    if budget.steps_left < 0:
        raise RenderTooCostly(
            f"does too much work (more than {MAX_STEPS} steps of loops, calls, filters or "
            "text); simplify it"
        )


def _ask(size: int, what: str, *, items: bool = False) -> None:
    limit, unit = (MAX_ITEMS, "items") if items else (MAX_TEXT, "characters")
    if size > limit:
        raise RenderTooCostly(
            f"asks for {size} {unit} with {what}; a step may build at most {limit}"
        )


def _sized(value: Any, what: str) -> Any:
    """Refuse a value bigger than any step may build; charge the text it holds."""
    if isinstance(value, str):
        _ask(len(value), what)
        _spend(len(value) // CHARS_PER_STEP)
    elif isinstance(value, list | tuple | dict | set) and len(value) > MAX_ITEMS:
        raise RenderTooCostly(f"builds {len(value)} items with {what}; at most {MAX_ITEMS}")
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RenderTooCostly(f"builds a number of {value.bit_length()} bits with {what}")
    return value


def _weight(value: Any) -> int:
    """Give the steps a filter pays to go through a value: per 100 characters, or per item."""
    if isinstance(value, str):
        return len(value) // CHARS_PER_STEP
    return len(value) if isinstance(value, Sized) else 0


def _text_length(items: Iterable[Any]) -> int:
    return sum(len(str(item)) for item in items)


# --- checks made before an operation builds its result ---

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(template: str, what: str) -> None:
    for width, precision in _PRINTF.findall(template):
        for number in (width, precision):
            if number == "*":
                raise RenderTooCostly(f"{what} may not take its width from an argument ('*')")
            if number:
                _ask(int(number), what)


def _check_format(template: str, what: str) -> None:
    for _, field, spec, _ in string.Formatter().parse(template):
        if field is not None and spec and "{" in spec:
            raise RenderTooCostly(f"{what} may not take its width from an argument")
        for number in re.findall(r"\d+", spec or ""):
            _ask(int(number), what)


def _check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        times = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            times = min(times, count)
        _ask(len(text) + times * (len(new) - len(old)), "replace")


def _check_binop(symbol: str, left: Any, right: Any) -> None:
    if symbol == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                _ask(len(seq) * times, "'*'", items=not isinstance(seq, str))
    elif symbol == "**" and isinstance(left, int) and isinstance(right, int):
        if abs(left) > 1 and right > 0 and (left.bit_length() - 1) * right > MAX_INT_BITS:
            raise RenderTooCostly(f"asks for a number of over {MAX_INT_BITS} bits with '**'")
    elif symbol == "%" and isinstance(left, str):
        _check_printf(left, "'%'")
    elif symbol == "+" and isinstance(left, str | list | tuple) and isinstance(right, Sized):
        _ask(len(left) + len(right), "'+'", items=not isinstance(left, str))


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "+": operator.add,
}


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call of a text method that would build more than MAX_TEXT characters."""
    text = getattr(method, "__self__", None)
    if not isinstance(text, str):
        return
    name = getattr(method, "__name__", "")
    what = f"'.{name}()'"
    values = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and values and isinstance(values[0], int):
        _ask(values[0], what)
    elif name == "expandtabs":
        size = values[0] if values and isinstance(values[0], int) else 8
        _ask(len(text) + text.count("\t") * size, what)
    elif name == "replace" and len(values) >= 2:
        _check_replace(text, *values[:3])
    elif name == "join" and values:
        items = values[0] if isinstance(values[0], Collection) else list(values[0])
        _ask(_text_length(items) + len(text) * len(items), what)


# --- filters ---

# Filters whose whole-number arguments are widths or counts of what they build.
_SIZE_ARGUMENTS = frozenset({"center", "indent", "wordwrap", "batch", "slice", "truncate"})


def _filter_check(name: str, func: Callable[..., Any]) -> Callable[..., None] | None:
    """Give the check a filter needs before it builds its result, if it needs one."""
    signature = inspect.signature(func)

    def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    def check(*args: Any, **kwargs: Any) -> None:
        named = arguments(args, kwargs)
        value = named.get("value", named.get("s"))
        if name == "replace":
            _check_replace(value, named["old"], named["new"], named.get("count"))
        elif name == "join" and isinstance(value, Collection):
            _ask(_text_length(value) + len(str(named.get("d", ""))) * len(value), "join")
        elif name == "indent" and isinstance(value, str):
            width = named.get("width", 4)
            pad = len(width) if isinstance(width, str) else width
            if isinstance(pad, int):
                _ask(len(value) + (value.count("\n") + 1) * pad, "indent")
        elif name == "wordwrap" and isinstance(value, str):
            width = named.get("width", 79)
            wrap = named.get("wrapstring") or "\n"
            if isinstance(width, int) and width > 0:
                _ask(len(value) + (len(value) // width + 1) * len(str(wrap)), "wordwrap")
        elif name == "format" and isinstance(value, str):
            _check_printf(value, "format")
        elif name == "sum" and not isinstance(named.get("start", 0), int | float):
            # Adding lists or texts one by one takes time that grows with the square.
            raise RenderTooCostly("filter 'sum' adds numbers only")

    checked = ("replace", "join", "indent", "wordwrap", "format", "sum")
    return check if name in checked else None


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _filter_check(name, func)
    sizes = name in _SIZE_ARGUMENTS
    # A filter marked pass_context (or similar) gets the context first, then the value.
    offset = 0 if getattr(func, "jinja_pass_arg", None) is None else 1

    @functools.wraps(func)  # keeps jinja_pass_arg, so Jinja still passes the context
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value = args[offset] if len(args) > offset else None
        if isinstance(value, Iterator):  # a generator from map or select: see what it holds
            value = list(value)
            args = (*args[:offset], value, *args[offset + 1 :])
        if sizes:
            for extra in (*args[offset + 1 :], *kwargs.values()):
                if isinstance(extra, int) and not isinstance(extra, bool):
                    _ask(extra, f"filter {name!r}")
        if check is not None:
            check(*args, **kwargs)
        _spend(1 + _weight(value))
        return _sized(func(*args, **kwargs), f"filter {name!r}")

    return guarded


def _each(iterable: Any) -> Any:
    """Charge a for loop one step per pass, before it starts where the length is known."""
    if isinstance(iterable, Sized):
        _spend(len(iterable))
        return iterable
    return _counted(iterable)


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend(1)
        yield item


@pass_eval_context
def _concat(eval_ctx: EvalContext, parts: list[Any]) -> str:
    """Join the parts of a `~` expression, refusing a result over MAX_TEXT characters."""
    _ask(_text_length(parts), "'~'")
    _spend(1)
    joined: str = markup_join(parts) if eval_ctx.autoescape else str_join(parts)
    return _sized(joined, "'~'")  # type: ignore[no-any-return]  # _sized returns its input


def _bounded_join(parts: Iterable[str]) -> str:
    """Join what a template (or a macro, or a {% set %} block) writes, up to MAX_TEXT."""
    kept = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_TEXT:
            raise RenderTooCostly(f"writes more than {MAX_TEXT} characters")
        kept.append(part)
    _spend(size // CHARS_PER_STEP)
    return "".join(kept)


def _charged(finalize: Callable[..., Any] | None) -> Callable[..., Any]:
    """Charge every {{ value }} written, even into a macro or {% set %} block never shown."""

    def charge(value: Any) -> Any:
        shown = value if finalize is None else finalize(value)
        if isinstance(shown, str):
            _spend(len(shown) // CHARS_PER_STEP)
        return shown

    return charge


class _Steps(NodeTransformer):
    """Rewrite a parsed template so loops and `~` go through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_each", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, "_concat", [], [], None, None, lineno=node.lineno)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with every loop, call, filter and text-building operator on a budget."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Generated code joins output with environment.concat: macros, blocks and the result.
        self.concat = _bounded_join  # type: ignore[method-assign]
        self.finalize = _charged(self.finalize)
        self.globals.pop("lipsum", None)  # lipsum(n) writes n paragraphs; no message needs it
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters["_each"] = _each
        self.filters["_concat"] = _concat

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Register a filter of our own, on the same budget as Jinja's."""
        self.filters[name] = _guard_filter(name, func)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Steps().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree  # type: ignore[no-any-return]  # visit returns the node it was given

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply a text-building or number-growing operator within the budget."""
        _check_binop(operator, left, right)
        _spend(1)
        return _sized(_BINOPS[operator](left, right), repr(operator))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox str.format as Jinja does, refusing widths over MAX_TEXT first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__, f"'.{value.__name__}()'")
        return wrapped

    def call(
        __self,  # Jinja's own signature: the names must not clash with kwargs
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Call a function, macro or method within the budget."""
        _spend(MACRO_STEPS if isinstance(__obj, Macro) else 1)
        if args and isinstance(__obj, LoopContext):  # loop(items) in a recursive for loop
            args = (_each(args[0]), *args[1:])
        elif args and isinstance(getattr(__obj, "__self__", None), str):
            if isinstance(args[0], Iterator):  # ''.join(generator): see what it holds
                args = (list(args[0]), *args[1:])
            _check_method(__obj, args, kwargs)
        return _sized(super().call(__context, __obj, *args, **kwargs), "a call")
