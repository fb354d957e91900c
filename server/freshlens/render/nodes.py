"""Render what the static scanner cannot read: a model's Jinja, and Jinja in YAML config values.

Only what needs it is rendered (``needs_render``): a model whose scan is complete keeps the fast
path. A rendered model's ``ref``/``source``/``config`` calls replace the scanned ones, each at the
position of the call site in the model file (the exact span of a literal call the scanner also found,
else the Jinja tag on the line that made it). Results are cached by content: the file text, its
package and the project's context fingerprint (macros, vars, target, dispatch), so an edit
re-renders one file.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError, Undefined
from jinja2.exceptions import SecurityError

from freshlens.model import Dynamic, Span
from freshlens.project.sqlscan import ConfigCall, RefCall, SqlScan
from freshlens.project.yamlpos import YMap, YNode, YPair, YScalar, YSeq
from freshlens.render.context import (
    MacroReturn,
    ProjectContext,
    RecordedCall,
    Recorder,
    Setup,
    bind,
    note_undefined_call,
    unbind,
)
from freshlens.render.sandbox import NODE_FILE, STRING_FILE, RenderError, budget

# A called name: `name(` or `pkg.name(`
# possessive and anchored at a word's start: a name not followed by "(" fails at once, instead of
# backtracking through every shorter prefix of every word (0.08 s of 10,000 models' SQL; now 0.03 s)
_CALLED = re.compile(r"\b([A-Za-z_]\w*+)(?:\.([A-Za-z_]\w*+))?\s*+\(")
_TAG_ON_LINE = re.compile(r"\{\{|\{%")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


@dataclass(slots=True)
class NodeRender:
    """What rendering one model found, or why it could not."""

    refs: list[RefCall] = field(default_factory=list)
    configs: list[ConfigCall] = field(default_factory=list)
    problem: str | None = None  # rendering failed: why (the scanned calls stay, flagged)
    problem_span: Span | None = None
    undefined: list[str] = field(default_factory=list)  # names called that no macro defines

    @property
    def ok(self) -> bool:
        return self.problem is None


def _tag(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def to_node(value: Any, span: Span) -> YNode:
    """A rendered Python value as the position-carrying tree the rules read (every part at ``span``)."""
    if isinstance(value, dict):
        return YMap([YPair(YScalar(str(k), span, "str"), to_node(v, span)) for k, v in value.items()], span)
    if isinstance(value, list | tuple):
        return YSeq([to_node(v, span) for v in value], span)
    if isinstance(value, Dynamic):
        return YScalar(value, span, "dynamic")
    if isinstance(value, Undefined):  # a name no macro defines: the value is unknown, not ""
        return YScalar(Dynamic(f"{value._undefined_name or '?'}(…)"), span, "dynamic")
    if not isinstance(value, str | int | float | bool) and value is not None:
        value = str(value)
    return YScalar(value, span, _tag(value), isinstance(value, str))


class Renderer:
    """Parse-time rendering for one project (root + installed packages)."""

    def __init__(self, setup: Setup, stored: dict[str, Any] | None = None) -> None:
        self.context = ProjectContext(setup)
        # the disk cache (freshlens.render.cache): entries read at start, entries used this session
        self.stored: dict[str, Any] = stored or {}
        self.used: dict[str, Any] = {}
        self.rendered = 0  # renders actually run (not served by a cache)
        self.setup = setup
        self._cache: dict[tuple[str, str, str, str], NodeRender] = {}
        self._values: dict[tuple[str, str, bool], Any] = {}
        self._macro_names = {name for pkg in setup.macros.values() for name in pkg}
        self._namespaces = {p for p in setup.packages if p in setup.macros}
        self._jinja_vars = any(
            isinstance(v, str) and "{{" in v
            for values in setup.project_vars.values()
            for v in _flat_values(values)
        ) or any(isinstance(v, str) and "{{" in v for v in _flat_values(setup.cli_vars))

    # -- which files ------------------------------------------------------------------------------
    def needs_render(self, text: str, scan: SqlScan) -> bool:
        """True when the static scan cannot be complete: computed refs or configs, macro calls, …"""
        if any(r.dynamic or r.conditional for r in scan.refs):
            return True  # a computed name, or a branch dbt parse may not take ({% if execute %}, target …)
        if any(_has_dynamic(c.args) or c.conditional for c in scan.configs):
            return True
        if "{" not in text or not (self._macro_names or self._namespaces or self._jinja_vars):
            return False
        jinja = " ".join(_JINJA.findall(text))  # calls outside {{ }} / {% %} are SQL, not macros
        if "builtins." in jinja or re.search(r"\{%-?\s*macro\b", jinja):
            return True  # builtins.ref(…); a macro defined in the model (its refs count only if called)
        for m in _CALLED.finditer(jinja):
            head, attr = m.group(1), m.group(2)
            if attr is None:
                if head in self._macro_names:
                    return True
                if head == "var" and self._jinja_vars:
                    return True
            elif head in self._namespaces or (head == "adapter" and attr == "dispatch"):
                return True
        return False

    # -- models -----------------------------------------------------------------------------------
    def render_node(
        self, package: str, name: str, text: str, scan: SqlScan, meta: dict[str, Any] | None = None
    ) -> NodeRender:
        """``meta``: what ``model`` offers besides its name (fqn, path, original_file_path)."""
        meta = meta or {}
        key = (package, name, text, repr(sorted(meta.items())))
        got = self._cache.get(key)
        if got is None:
            from freshlens.render import cache

            disk_key = cache.entry_key(
                self.context.fingerprint, package, name + repr(sorted(meta.items())), text
            )
            entry = self.stored.get(disk_key)
            if entry is not None:
                try:
                    got = cache.load_entry(entry)
                except (KeyError, TypeError, ValueError, IndexError):
                    got = None
            if got is None:
                got = self._render(package, name, text, scan, meta)
                self.rendered += 1
                entry = cache.dump(got)
            self.used[disk_key] = entry
            self._cache[key] = got
        return got

    def _render(self, package: str, name: str, text: str, scan: SqlScan, meta: dict[str, Any]) -> NodeRender:
        out = NodeRender()
        lines = text.splitlines()
        rec = Recorder(package, name, meta=dict(meta))
        ns = self.context.namespace(package)
        calls = simple_calls(text)
        template = None
        if calls is None:
            try:
                template = self.context.text_env.compile_template(text, NODE_FILE)
            except TemplateError as exc:
                out.problem = f"Jinja syntax error: {exc}"
                out.problem_span = _line_span(lines, getattr(exc, "lineno", 1) or 1)
                return out
            rec.template = template
        error: BaseException | None = None
        token = bind(rec)
        try:
            with budget():
                if template is not None:
                    "".join(template.root_render_func(template.new_context(ns, shared=True)))
                else:
                    _run_calls(calls or [], ns, rec)
        except MacroReturn:
            pass  # a top-level return(): dbt ends the render there too
        except Exception as exc:
            error = exc
            out.problem = _why(exc)
        finally:
            unbind(token)
        if error is not None:
            failed_at = _failure_line(error, template) if template is not None else rec.forced_line
            out.problem_span = _line_span(lines, failed_at or _first_tag_line(lines))
            return out
        out.undefined = list(rec.undefined)
        out.refs = [_ref_call(c, lines, scan) for c in rec.calls]
        for c in rec.configs:
            span = _static_config_span(scan, c.line) or _line_span(lines, c.line or 1)
            values = _mark_unset(c.values, rec.unset) if rec.unset else c.values
            args = to_node(values, span)
            assert isinstance(args, YMap)
            out.configs.append(ConfigCall(args, span))
        out.configs = _prefer_static_configs(out.configs, rec, scan)
        return out

    # -- YAML values ------------------------------------------------------------------------------
    def render_value(self, package: str, text: str, project: bool = False) -> Any:
        """A Jinja string from YAML (``"{{ var('x') | as_bool }}"``) rendered as dbt does (native).

        Cached by (package, text): a folder's ``+enabled`` reaches every model below it, and YAML
        values see no per-node context (no ``ref``/``this``), so one render serves them all.
        """
        key = (package, text, project)
        got = self._values.get(key, _MISSING)
        if got is _MISSING:
            try:
                got = self._render_value(package, text, "project" if project else "props")
            except Exception as exc:  # remembered too: the same text fails the same way
                got = _Failed(exc)
            self._values[key] = got
        if isinstance(got, _Failed):
            raise got.exc
        return got

    def _render_value(self, package: str, text: str, mode: str) -> Any:
        t = self.context.native_env.compile_template(text, STRING_FILE)
        rec = Recorder(package, "", mode=mode)
        token = bind(rec)
        try:
            with budget():
                ns = self.context.namespace(package)
                return self.context.native_env.concat(t.root_render_func(t.new_context(ns, shared=True)))
        finally:
            unbind(token)


_MISSING = object()


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _mark_unset(value: Any, unset: list[str]) -> Any:
    """In a render that read vars nobody set, a None config value is unknown, not null."""
    if value is None:
        return Dynamic(", ".join(f"var('{v}')" for v in unset) + " (no value, no default)")
    if isinstance(value, dict):
        return {k: _mark_unset(v, unset) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_unset(v, unset) for v in value]
    return value


def _flat_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat_values(v)]
    if isinstance(value, list):
        return [x for v in value for x in _flat_values(v)]
    return [value]


def _has_dynamic(node: YNode) -> bool:
    if isinstance(node, YScalar):
        return node.tag == "dynamic"
    if isinstance(node, YSeq):
        return any(_has_dynamic(i) for i in node.items)
    return any(_has_dynamic(p.value) for p in node.items)


def _line_span(lines: list[str], line: int) -> Span:
    """The Jinja on a 1-based line: from its first tag to the end of the line."""
    i = max(0, min(line - 1, len(lines) - 1)) if lines else 0
    text = lines[i] if lines else ""
    m = _TAG_ON_LINE.search(text)
    start = m.start() if m else len(text) - len(text.lstrip())
    return Span(i, start, i, len(text.rstrip()))


def _why(exc: BaseException) -> str:
    """Why a render stopped, in words for the user."""
    if isinstance(exc, RenderError):
        return exc.message
    if isinstance(exc, SecurityError):
        return f"the sandbox refused an operation ({exc})"
    if isinstance(exc, RecursionError):
        return "macros call each other without end (recursion limit)"
    if isinstance(exc, TemplateError):
        return f"Jinja error: {exc}"
    return f"{type(exc).__name__}: {exc}"  # the user's Jinja raised (a TypeError in an expression, …)


# -- the fast path: a model whose only Jinja is calls with literal arguments ----------------------

_CONSTANTS = {"true": True, "True": True, "false": False, "False": False, "none": None, "None": None}


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.List):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        v = node.operand.value
        if isinstance(v, int | float) and not isinstance(v, bool):
            return -v
    raise ValueError("not a literal")


Call = tuple[int, list[str], list[Any], dict[str, Any]]


def simple_calls(text: str) -> list[Call] | None:
    """The ``{{ f(…) }}`` / ``{{ pkg.f(…) }}`` calls of a model whose Jinja is only that, with literal
    arguments; None when anything else is there (blocks, comments, filters, ``~``, names as
    arguments …), and the model is compiled by Jinja instead.

    Such a model renders the same either way (its output is not used, only the calls it makes), and
    this costs microseconds instead of a Jinja compile (a few milliseconds). The literals are read
    with Python's parser, which agrees with Jinja's on strings, numbers, lists, tuples and dicts;
    ``true``/``false``/``none`` are Jinja's spellings.
    """
    if "{%" in text or "{#" in text:
        return None
    out: list[Call] = []
    for start, expr in _expressions(text):
        if expr is None:
            return None
        try:
            tree = ast.parse(expr.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        if not isinstance(tree, ast.Call):
            return None
        f = tree.func
        if isinstance(f, ast.Name):
            path = [f.id]
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            path = [f.value.id, f.attr]
        else:
            return None
        if path[-1].startswith("_") or any(k.arg is None for k in tree.keywords):
            return None
        try:
            args = [_literal(a) for a in tree.args]
            kwargs = {str(k.arg): _literal(k.value) for k in tree.keywords}
        except (ValueError, TypeError, RecursionError):
            return None
        out.append((text.count("\n", 0, start) + 1, path, args, kwargs))
    return out


def _expressions(text: str) -> list[tuple[int, str | None]]:
    """Each ``{{ … }}``: its start and inner text (quotes and brackets respected); None if unclosed."""
    out: list[tuple[int, str | None]] = []
    i = text.find("{{")
    n = len(text)
    while i != -1:
        j = i + 2
        if j < n and text[j] == "-":
            j += 1
        begin = j
        depth = 0
        quote = ""
        end = -1
        while j < n:
            c = text[j]
            if quote:
                if c == "\\":
                    j += 2
                    continue
                if c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c in "([{":
                depth += 1
            elif c in ")]" or (c == "}" and depth > 0):
                depth -= 1
            elif c == "}" and text.startswith("}}", j):
                end = j
                break
            j += 1
        if end == -1:
            out.append((i, None))
            return out
        inner = text[begin:end]
        out.append((i, inner[:-1] if inner.endswith("-") else inner))
        i = text.find("{{", end + 2)
    return out


def _run_calls(calls: list[Call], ns: dict[str, Any], rec: Recorder) -> None:
    """Make the calls as the compiled template would (a name no macro defines renders empty)."""
    for line, path, args, kwargs in calls:
        rec.forced_line = line
        obj = ns.get(path[0], _MISSING)
        if obj is not _MISSING and len(path) == 2:
            obj = getattr(obj, path[1], _MISSING)
        if obj is _MISSING or isinstance(obj, Undefined):
            note_undefined_call(".".join(path))
            continue
        if not callable(obj):
            raise RenderError(f"{'.'.join(path)} is not a macro or function")
        obj(*args, **kwargs)


def _failure_line(exc: BaseException, template: Any) -> int | None:
    """The line of the model where rendering failed (its last frame in the traceback)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == NODE_FILE:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _first_tag_line(lines: list[str]) -> int:
    for i, text in enumerate(lines):
        if _TAG_ON_LINE.search(text):
            return i + 1
    return 1


def _ref_call(c: RecordedCall, lines: list[str], scan: SqlScan) -> RefCall:
    for s in scan.refs:
        same = not s.dynamic and s.kind == c.kind and s.args == c.args and s.version == c.version
        if same and (c.line is None or s.span.line == c.line - 1):
            return RefCall(c.kind, list(c.args), c.version, s.span)
    return RefCall(c.kind, list(c.args), c.version, _line_span(lines, c.line or 1))


def _static_config_span(scan: SqlScan, line: int | None) -> Span | None:
    if line is None:
        return None
    for c in scan.configs:
        if c.span.line == line - 1:
            return c.span
    return None


def _prefer_static_configs(rendered: list[ConfigCall], rec: Recorder, scan: SqlScan) -> list[ConfigCall]:
    """Keep the scanner's exact tree for a literal config() call the render also made."""
    out: list[ConfigCall] = []
    for call, recorded in zip(rendered, rec.configs, strict=True):
        static = next(
            (
                s
                for s in scan.configs
                if recorded.line is not None
                and s.span.line == recorded.line - 1
                and not _has_dynamic(s.args)
                and not s.conditional
            ),
            None,
        )
        out.append(static if static is not None else call)
    return out
