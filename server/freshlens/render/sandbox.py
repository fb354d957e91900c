"""The Jinja2 environments freshlens renders dbt code in: sandboxed, budgeted, dbt's filters.

Safety: ``jinja2.sandbox.SandboxedEnvironment`` refuses private and internal attributes
(``__class__``, ``func_globals`` …) and unsafe callables; the environments have **no loader**, so
``{% include %}``/``{% import %}`` of files fail; the context (``freshlens.render.context``) offers no
function that reads files, opens connections or runs SQL. A render also has a budget (steps and
seconds, below): a runaway loop or recursion is cut, reported, and the rest of the project goes on.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain, islice
from types import CodeType, FrameType
from typing import Any

from jinja2 import ChainableUndefined, Template, UndefinedError, nodes
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.sandbox import SandboxedEnvironment

# Steps of one render (node or YAML value): a step is one pass of a ``{% for %}`` body (or one item a
# loop's ``if`` filter looks at) and one macro or call-block body run. A model that loops over every
# country and every event type of a real project takes a few thousand; 200,000 take well under a
# second, so hostile input is cut long before it stalls the editor.
MAX_RENDER_STEPS = 200_000
# Wall-clock budget of one render, checked every 64 steps (same reasoning as MAX_PARSE_SECONDS).
MAX_RENDER_SECONDS = 2.0

# Code objects of templates compiled here carry one of these file names, so the call-site lookup
# and error positions can tell template frames from Python frames.
NODE_FILE = "<freshlens-node>"
MACRO_FILE = "<freshlens-macro>"
STRING_FILE = "<freshlens-string>"


class RenderError(Exception):
    """Rendering stopped: the message says why, in words for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unresolvable(RenderError):
    """Something freshlens cannot know at parse time (an unset var, env_var, an unknown target field)."""


class BudgetExceeded(RenderError):
    pass


# -- dbt's filters (dbt/clients/jinja.py): markers that the native renderer turns into values -----


class _NativeMarker(str):
    pass


class _BoolMarker(_NativeMarker):
    pass


class _NumberMarker(_NativeMarker):
    pass


class _TextMarker(str):
    pass


def _as_bool(value: Any) -> Any:
    return _BoolMarker(value)


def _as_number(value: Any) -> Any:
    return _NumberMarker(value)


def _as_native(value: Any) -> Any:
    return _NativeMarker(value)


def _as_text(value: Any) -> Any:
    return _TextMarker(value)


# dbt's native (YAML) environment turns the markers into values; its text environment (models, macros)
# defines the same four filters as identity, so `x | as_bool` in a model's Jinja is x itself.
NATIVE_FILTERS = {"as_bool": _as_bool, "as_number": _as_number, "as_native": _as_native, "as_text": _as_text}
TEXT_FILTERS = {name: (lambda value: value) for name in NATIVE_FILTERS}


def _literal(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return raw


def native_concat(values: Iterable[Any]) -> Any:
    """dbt's ``quoted_native_concat``: one raw value stays a value; markers and text are literal-eval'd."""
    it = iter(values)
    head = list(islice(it, 2))
    if not head:
        return ""
    if len(head) == 1:
        raw = head[0]
        if isinstance(raw, _TextMarker):
            return str(raw)
        if not isinstance(raw, _NativeMarker):
            return raw
        raw = str(raw)
    else:
        raw = "".join(str(v) for v in chain(head, it))
    result = _literal(raw)
    if isinstance(result, str):
        return raw
    return result


class ParseUndefined(ChainableUndefined):
    """A name no context or macro defines. dbt's own global macros (``current_timestamp()``,
    ``dbt.type_string()`` …) are not in the project; they never call ``ref``/``source``, so a call of
    an undefined name renders as empty text and is recorded (see ``render.context``) instead of failing.
    """

    __slots__ = ()

    def _refused(self) -> None:
        """The sandbox's own undefined for an unsafe attribute (``''.__class__``): fail, do not chain."""
        if self._undefined_exception is not UndefinedError:
            self._fail_with_undefined_error()

    def __getattr__(self, name: str) -> Any:
        self._refused()
        return super().__getattr__(name)

    def __getitem__(self, key: Any) -> Any:
        self._refused()
        return super().__getitem__(key)

    def __str__(self) -> str:
        self._refused()
        return super().__str__()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._refused()
        from freshlens.render.context import note_undefined_call

        note_undefined_call(self._undefined_name or "?")
        return ParseUndefined(name=self._undefined_name)


class _Sandbox(SandboxedEnvironment):
    def __init__(self, native: bool) -> None:
        super().__init__(
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],  # as dbt enables them
            undefined=ParseUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )
        self.filters.update(NATIVE_FILTERS if native else TEXT_FILTERS)
        self.globals[STEP] = _step
        if native:
            self.code_generator_class = NativeCodeGenerator
            self.concat = native_concat  # type: ignore[method-assign]

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _with_steps(super()._parse(source, name, filename))

    def compile_template(self, source: str, filename: str) -> Template:
        code = self.compile(source, name=None, filename=filename)
        assert isinstance(code, CodeType)
        return self.template_class.from_code(self, code, self.make_globals(None))


def text_environment() -> _Sandbox:
    """For model SQL and macros: output is text."""
    return _Sandbox(native=False)


def native_environment() -> _Sandbox:
    """For YAML config values: ``"{{ var('n') }}"`` gives the var's value, not its text (dbt's native mode)."""
    return _Sandbox(native=True)


# -- budget -------------------------------------------------------------------------------------


class _Budget:
    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS


# the budget of the render going on in this thread or task, if any (a trace function, which this
# replaces, was per thread too)
_CURRENT: ContextVar[_Budget | None] = ContextVar("freshlens_render_budget", default=None)
STEP = "__freshlens_step__"  # the name the budget's counter has in every compiled template


def _step() -> bool:
    """One step of the render going on (see MAX_RENDER_STEPS); raises ``BudgetExceeded`` past the limits.

    Compiled into the templates themselves (:meth:`_Sandbox._parse`): a trace function did this before,
    and was called for every Python frame of every render, 40% of a render's time."""
    b = _CURRENT.get()
    if b is not None:
        b.steps += 1
        if b.steps > MAX_RENDER_STEPS:
            raise BudgetExceeded(
                f"rendering stopped after {MAX_RENDER_STEPS:,} template steps (a loop that does not end?)"
            )
        if not b.steps & 63 and time.monotonic() > b.deadline:
            raise BudgetExceeded(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")
    return True


def _step_call(lineno: int) -> nodes.Call:
    call = nodes.Call(nodes.Name(STEP, "load"), [], [], None, None)
    call.set_lineno(lineno)
    return call


def _with_steps(tree: nodes.Template) -> nodes.Template:
    """Count a step at the top of every loop body and every macro and call-block body, and in every
    loop filter (``{% for x in xs if … %}`` looks at items that never reach the body)."""
    for node in tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock)):
        assert isinstance(node, nodes.For | nodes.Macro | nodes.CallBlock)
        stmt = nodes.ExprStmt(_step_call(node.lineno))
        stmt.set_lineno(node.lineno)
        node.body.insert(0, stmt)
        if isinstance(node, nodes.For) and node.test is not None:
            test = nodes.And(_step_call(node.lineno), node.test)
            test.set_lineno(node.lineno)
            node.test = test
    return tree


@contextmanager
def budget() -> Iterator[None]:
    """Count the steps of the render inside (see MAX_RENDER_STEPS); raise ``BudgetExceeded`` past the
    limits. A render inside a render (a YAML value rendered while a model renders) has its own."""
    token = _CURRENT.set(_Budget())
    try:
        yield
    finally:
        _CURRENT.reset(token)


def call_site_line(template: Template) -> int | None:
    """The 1-based line of ``template`` (a node) that is executing now, from the stack."""
    f: FrameType | None = sys._getframe(1)
    depth = 0
    while f is not None and depth < 400:
        if f.f_code.co_filename == NODE_FILE:
            return template.get_corresponding_lineno(f.f_lineno)
        f = f.f_back
        depth += 1
    return None
