"""dbt's parse-time Jinja context, rebuilt: what ``dbt parse`` offers a model or macro while it renders.

Learned from dbt-core's parse providers (``context/providers.py``: ``ParseProvider``,
``ParseRefResolver``, ``ParseConfigObject``, ``ParseVar``; ``context/base.py``: ``var``, ``env_var``,
``return``, ``modules``, ``fromjson`` …; ``context/macros.py``: the macro namespaces) and written anew:

* ``ref``/``source``/``config`` record their calls (with the line of the model that made them) and
  return stand-ins; ``config.get``/``require`` return ``""`` as in dbt parse; ``config.set`` records.
* ``execute`` is False and ``is_incremental()`` is False, so ``{% if execute %}`` bodies and
  ``run_query`` never run (``run_query``/``load_result`` return None, ``statement`` renders nothing).
* ``var()``: the user's overrides (dbt's ``--vars``), then the root project's ``vars:`` (scoped to the
  node's package, then global), then the package's own ``vars:``; a string value is rendered in the
  caller's context, as dbt does (so ``"{{ ref('x') }}"`` in ``vars:`` is an edge).
* ``env_var()`` gives its default; the real environment only when the user turned that on.
* ``target`` from the profile freshlens found; a field it does not know is *unresolvable*, never guessed.
* Macros: the node's own package first, then the root project, then installed packages by namespace
  (``dbt_utils.star()``); ``adapter.dispatch`` searches the ``dispatch:`` order of ``dbt_project.yml``
  with the adapter's prefixes then ``default__``.

Nothing here reads a file, opens a connection or runs SQL.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import re
import types
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import yaml
from jinja2 import Template

from freshlens.render.sandbox import (
    MACRO_FILE,
    STRING_FILE,
    RenderError,
    Unresolvable,
    call_site_line,
    native_environment,
    text_environment,
)

_MISSING = object()

# Prefixes adapter.dispatch tries before ``default__``, by adapter type (the adapter's own, then the
# adapters it inherits from).
ADAPTER_PREFIXES: dict[str, list[str]] = {
    "redshift": ["redshift", "postgres"],
    "databricks": ["databricks", "spark"],
    "materialize": ["materialize", "postgres"],
    "fabric": ["fabric"],
}

_MACRO_BLOCK = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\(.*?\{%-?\s*endmacro\s*-?%\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class MacroSource:
    package: str
    name: str
    text: str  # the {% macro %} … {% endmacro %} block, as dbt stores it in macro_sql


def macros_in(package: str, files: Mapping[str, str]) -> dict[str, MacroSource]:
    """The macros of one package's macro files, by name (a later file's macro wins, as in dbt)."""
    out: dict[str, MacroSource] = {}
    for _path, text in sorted(files.items()):
        for m in _MACRO_BLOCK.finditer(text):
            out[m.group(1)] = MacroSource(package, m.group(1), m.group(0))
    return out


@dataclass(slots=True)
class Setup:
    """What a project's parse context is made of (all plain data, read by the index)."""

    root: str
    packages: list[str]  # installed package names
    project_vars: dict[str, dict[str, Any]]  # package (root included) -> its dbt_project.yml vars:
    cli_vars: dict[str, Any]
    target: dict[str, Any]  # known fields of the profile's target (name, type, schema, …)
    dispatch: dict[str, list[str]]  # macro_namespace -> search_order
    macros: dict[str, dict[str, MacroSource]]  # package -> name -> macro
    env: Mapping[str, str] | None = None  # the real environment, only when the user allowed it

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([self.root, self.packages, self.dispatch], sort_keys=True).encode())
        h.update(
            json.dumps([self.project_vars, self.cli_vars, self.target], sort_keys=True, default=str).encode()
        )
        for pkg in sorted(self.macros):
            for name in sorted(self.macros[pkg]):
                h.update(self.macros[pkg][name].text.encode("utf-8", "replace"))
        h.update(json.dumps(None if self.env is None else sorted(self.env.items())).encode())
        return h.hexdigest()


@dataclass(slots=True)
class RecordedCall:
    kind: str  # "ref" | "source"
    args: list[str]
    version: str | None
    line: int | None  # 1-based line of the model where the call was made (a macro call: its call site)


@dataclass(slots=True)
class RecordedConfig:
    values: dict[str, Any]
    line: int | None


@dataclass(slots=True)
class Recorder:
    """What one render saw."""

    package: str
    name: str
    template: Template | None = None
    calls: list[RecordedCall] = field(default_factory=list)
    configs: list[RecordedConfig] = field(default_factory=list)
    undefined: list[str] = field(default_factory=list)
    forced_line: int | None = None  # the fast path's current call site (no template frame to read)
    meta: dict[str, Any] = field(default_factory=dict)  # fqn, path, original_file_path of the node
    # "node": a model's Jinja (an unset var is None, as dbt parse gives it); "props": properties YAML;
    # "project": dbt_project.yml, whose Jinja dbt renders at load with the --vars only
    mode: str = "node"
    unset: list[str] = field(default_factory=list)  # vars read that nobody set (mode "node")

    def line(self) -> int | None:
        if self.template is None:
            return self.forced_line
        return call_site_line(self.template)


_CURRENT: ContextVar[Recorder | None] = ContextVar("freshlens_render_current", default=None)


def current() -> Recorder:
    rec = _CURRENT.get()
    if rec is None:
        raise RenderError("internal: a parse-time function was called outside a render")
    return rec


def note_undefined_call(name: str) -> None:
    rec = _CURRENT.get()
    if rec is not None and name not in rec.undefined:
        rec.undefined.append(name)


class MacroReturn(Exception):
    """``{{ return(x) }}``: ends the macro with a value."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


def _return(value: Any = None) -> Any:
    raise MacroReturn(value)


class Stub:
    """A stand-in for what parse time cannot know (relations' columns, adapter answers): falsy, empty."""

    def __init__(self, text: str = "") -> None:
        self._text = text

    def __getattr__(self, name: str) -> Stub:
        if name.startswith("_"):
            raise AttributeError(name)
        return Stub()

    def __call__(self, *args: Any, **kwargs: Any) -> Stub:
        return Stub()

    def __iter__(self) -> Any:
        return iter(())

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return self._text

    def __getitem__(self, key: Any) -> Stub:
        return Stub()


class Relation:
    """What ``ref()``/``source()``/``this`` return at parse time: renders as its name."""

    def __init__(self, database: Any, schema: Any, identifier: str) -> None:
        self.database = database
        self.schema = schema
        self.identifier = identifier
        self.name = identifier
        self.table = identifier

    def __str__(self) -> str:
        parts = [p for p in (self.database, self.schema, self.identifier) if p]
        return ".".join(f'"{p}"' for p in parts)

    def include(self, *args: Any, **kwargs: Any) -> Relation:
        return self

    def quote(self, *args: Any, **kwargs: Any) -> Relation:
        return self

    def render(self) -> str:
        return str(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return Stub()


def _from_unset(names: list[Any], rec: Recorder) -> bool:
    """A name built from a var nobody set (``'orders_' ~ None`` is ``'orders_None'``): not guessed."""
    return bool(rec.unset) and any(a is None or (isinstance(a, str) and "None" in a) for a in names)


def _not_names(kind: str, names: list[Any], rec: Recorder) -> str:
    if rec.unset and _from_unset(names, rec):
        unset = ", ".join(f"var('{v}')" for v in rec.unset)
        return (
            f"{kind}() of {unset}, which has no value and no default (dbt parse records no edge for it and "
            "fails when the model is compiled); set it in vars: or with freshlens's vars setting"
        )
    return f"{kind}() with arguments that are not names: {names!r}"


def _ref(*args: Any, **kwargs: Any) -> Relation:
    version = kwargs.pop("v", kwargs.pop("version", None))
    package = kwargs.pop("package", None)
    if kwargs:
        raise RenderError(f"ref() got unexpected arguments: {', '.join(kwargs)}")
    names = list(args)
    if package is not None:
        names = [package, *names]
    rec = current()
    if not 1 <= len(names) <= 2 or not all(isinstance(a, str) for a in names) or _from_unset(names, rec):
        raise Unresolvable(_not_names("ref", names, rec))
    rec.calls.append(
        RecordedCall("ref", [str(a) for a in names], None if version is None else str(version), rec.line())
    )
    return Relation(None, None, str(names[-1]))


def _source(*args: Any, **kwargs: Any) -> Relation:
    names = [*args, *(kwargs[k] for k in ("source_name", "table_name") if k in kwargs)]
    rec = current()
    if len(names) != 2 or not all(isinstance(a, str) for a in names) or _from_unset(names, rec):
        raise Unresolvable(_not_names("source", names, rec))
    rec.calls.append(RecordedCall("source", [str(a) for a in names], None, rec.line()))
    return Relation(None, names[0], names[1])


class ParseConfig:
    """``config``: calls and ``config.set`` are recorded; ``get``/``require`` give ``""`` as in dbt parse."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        if len(args) == 1 and not kwargs and isinstance(args[0], dict):
            opts = dict(args[0])
        elif not args and kwargs:
            opts = dict(kwargs)
        else:
            raise RenderError("config() takes either one dict or keyword arguments")
        rec = current()
        rec.configs.append(RecordedConfig(opts, rec.line()))
        return ""

    def set(self, name: str, value: Any) -> str:
        return self({name: value})

    def get(self, name: str, default: Any = None, validator: Any = None) -> str:
        return ""

    def require(self, name: str, validator: Any = None) -> str:
        return ""

    def persist_relation_docs(self) -> bool:
        return False

    def persist_column_docs(self) -> bool:
        return False


class Target:
    """``target`` with the fields freshlens knows; any other field is unresolvable (never guessed)."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._fields:
            return self._fields[name]
        raise Unresolvable(
            f"target.{name} is not known (freshlens reads the profile's default target from profiles.yml; "
            "set freshlens's target setting to choose one)"
        )

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, default)


class _Exceptions:
    def raise_compiler_error(self, msg: Any = "", node: Any = None) -> Any:
        raise RenderError(f"the project raised a compiler error while parsing: {msg}")

    def raise_not_implemented(self, msg: Any = "") -> Any:
        raise RenderError(f"the project raised 'not implemented' while parsing: {msg}")

    def warn(self, msg: Any = "", node: Any = None) -> str:
        return ""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return Stub()


def _tojson(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except (TypeError, ValueError):
        return default


def _fromjson(text: Any, default: Any = None) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def _fromyaml(text: Any, default: Any = None) -> Any:
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, TypeError):
        return default


def _toyaml(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return yaml.safe_dump(value, sort_keys=sort_keys)
    except yaml.YAMLError:
        return default


class SafeModule:
    """A module as templates see it: its functions, classes and constants, never another module.

    ``modules.re.enum.sys.modules['os']`` or ``modules.pytz.os`` would reach the operating system
    through a module's own imports; the Jinja sandbox guards attributes of functions and private
    names, not that, so a module attribute that is a module is refused here.
    """

    def __init__(self, module: types.ModuleType, only: frozenset[str] | None = None) -> None:
        self._module = module
        self._only = only

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or (self._only is not None and name not in self._only):
            raise AttributeError(name)
        value = getattr(self._module, name)
        if isinstance(value, types.ModuleType):
            raise AttributeError(f"{self._module.__name__}.{name} is a module: not available at parse time")
        return value


def _modules() -> dict[str, Any]:
    mods: dict[str, Any] = {"datetime": datetime, "re": re, "itertools": itertools}
    try:
        import pytz  # type: ignore[import-untyped]

        mods["pytz"] = pytz
    except ImportError:  # pragma: no cover - pytz is a dependency
        pass
    # pytz: what dbt projects use, not open_resource() and the other file readers
    only = {"pytz": frozenset({"timezone", "utc", "UTC", "all_timezones", "common_timezones", "FixedOffset"})}
    return {name: SafeModule(m, only.get(name)) for name, m in mods.items()}


def _nothing(*args: Any, **kwargs: Any) -> str:
    return ""


def _none(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


class _Namespace:
    """A package's macros by attribute: ``{{ dbt_utils.star(...) }}``."""

    def __init__(self, name: str, lookup: Callable[[str], Any]) -> None:
        self._name = name
        self._lookup = lookup

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        got = self._lookup(name)
        if got is None:
            raise AttributeError(name)
        return got


class _ThisProxy:
    """``this``: the node being rendered (one shared context serves every node of a package).

    Its database and schema are the target's (dbt parse has not applied a custom ``schema``/``alias``
    config when the model's own Jinja runs); unknown when the profile does not say.
    """

    def __init__(self, target: Target) -> None:
        self._target = target

    def _rel(self) -> Relation:
        rec = current()
        return Relation(self._target.database, self._target.schema, rec.name)

    def __str__(self) -> str:
        return str(self._rel())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._rel(), name)


class _ModelProxy:
    """``model``: the node being parsed, as dbt's parse context offers it (name, fqn, paths …)."""

    def _fields(self) -> dict[str, Any]:
        rec = current()
        return {
            "name": rec.name,
            "package_name": rec.package,
            "resource_type": "model",
            "unique_id": f"model.{rec.package}.{rec.name}",
            "config": {},
            **rec.meta,
        }

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        fields = self._fields()
        if name in fields:
            return fields[name]
        if name == "get":
            return fields.get
        raise Unresolvable(f"model.{name} is not known at parse time to freshlens")

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)


class MacroFn:
    """A macro as the context offers it: ``return()`` gives its value, else its rendered text."""

    def __init__(self, owner: ProjectContext, src: MacroSource, ns: dict[str, Any]) -> None:
        self._owner = owner
        self._src = src
        self._ns = ns
        self._macro: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._macro is None:
            template = self._owner.macro_template(self._src)
            # the module's own context: a TemplateModule exports no `_private` name, dbt calls them too
            ctx = template.new_context(self._ns, shared=True)
            for _ in template.root_render_func(ctx):
                pass
            self._macro = ctx.vars.get(self._src.name)
            if self._macro is None:
                raise RenderError(f"macro {self._src.package}.{self._src.name} could not be read")
        try:
            return self._macro(*args, **kwargs)
        except MacroReturn as r:
            return r.value


class ProjectContext:
    """The parse-time contexts of one project (one namespace per package that has nodes)."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.text_env = text_environment()
        self.native_env = native_environment()
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._macro_templates: dict[tuple[str, str], Template] = {}
        self._strings: dict[str, Template] = {}
        self._vars: dict[str, dict[str, Any]] = {}
        self.fingerprint = setup.fingerprint()

    # -- vars -------------------------------------------------------------------------------------
    def _scoped(self, values: Mapping[str, Any], package: str) -> dict[str, Any]:
        known = {self.setup.root, *self.setup.packages}
        out = {k: v for k, v in values.items() if not (k in known and isinstance(v, dict))}
        scoped = values.get(package)
        if package in known and isinstance(scoped, dict):
            out.update(scoped)
        return out

    def vars_for(self, package: str) -> dict[str, Any]:
        got = self._vars.get(package)
        if got is None:
            got = {}
            if package != self.setup.root:
                got.update(self._scoped(self.setup.project_vars.get(package, {}), package))
            got.update(self._scoped(self.setup.project_vars.get(self.setup.root, {}), package))
            got.update(self._scoped(self.setup.cli_vars, package))
            self._vars[package] = got
        return got

    def _var(self, name: Any, default: Any = _MISSING) -> Any:
        rec = current()
        if rec.mode == "project":  # dbt renders dbt_project.yml before it reads vars: from it
            values = self._scoped(self.setup.cli_vars, rec.package)
        else:
            values = self.vars_for(rec.package)
        if name in values:
            raw = values[name]
        elif default is not _MISSING:
            return default
        elif rec.mode == "node":
            # dbt parse gives None for a var nobody set (it fails only when the model is compiled)
            if str(name) not in rec.unset:
                rec.unset.append(str(name))
            return None
        else:
            where = "dbt_project.yml sees only --vars" if rec.mode == "project" else "nobody sets it"
            raise Unresolvable(
                f"var('{name}') has no value and no default ({where}; dbt fails to parse the same way); "
                "set it with --vars or freshlens's vars setting"
            )
        if isinstance(raw, str) and ("{{" in raw or "{%" in raw):
            return self.render_string(raw, rec.package)
        return raw

    def _env_var(self, name: Any, default: Any = None) -> Any:
        env = self.setup.env
        if env is not None and name in env:
            return env[name]
        if default is not None:
            return default
        why = (
            "it is not set"
            if env is not None
            else "reading the environment is off (setting freshlens.render.envVars)"
        )
        raise Unresolvable(f"env_var('{name}') has no default and {why}")

    # -- macros -----------------------------------------------------------------------------------
    def macro_template(self, src: MacroSource) -> Template:
        key = (src.package, src.name)
        t = self._macro_templates.get(key)
        if t is None:
            t = self.text_env.compile_template(src.text, MACRO_FILE)
            self._macro_templates[key] = t
        return t

    def _dispatch_for(self, ns: dict[str, Any]) -> Callable[..., Any]:
        setup = self.setup

        def dispatch(macro_name: str, macro_namespace: str | None = None, packages: Any = None) -> Any:
            atype = str(setup.target.get("type") or "")
            prefixes = [*ADAPTER_PREFIXES.get(atype, [atype] if atype else []), "default"]
            if macro_namespace is None:
                order: list[str | None] = [None]
            else:
                configured = setup.dispatch.get(macro_namespace)
                if configured:
                    order = list(configured)
                elif macro_namespace in setup.packages:
                    order = [setup.root, macro_namespace]
                else:
                    order = [macro_namespace]
            for pkg in order:
                for prefix in prefixes:
                    full = f"{prefix}__{macro_name}"
                    if pkg is None:
                        got = ns.get(full)
                        if isinstance(got, MacroFn):
                            return got
                    elif full in setup.macros.get(pkg, {}):
                        return self._macro_fn(ns, setup.macros[pkg][full])
            if macro_namespace in (None, "dbt") or macro_namespace not in {setup.root, *setup.packages}:
                # dbt's own macros (or a package that is not installed): no ref/source inside
                note_undefined_call(f"{macro_namespace or ''}.{macro_name}".lstrip("."))
                return Stub()
            raise Unresolvable(
                f"adapter.dispatch('{macro_name}', '{macro_namespace}') found no "
                f"{'/'.join(p + '__' for p in prefixes)}{macro_name} in {', '.join(str(p) for p in order)}"
            )

        return dispatch

    def _macro_fn(self, ns: dict[str, Any], src: MacroSource) -> MacroFn:
        cache: dict[tuple[str, str], MacroFn] = ns["__freshlens_macros__"]
        key = (src.package, src.name)
        fn = cache.get(key)
        if fn is None:
            fn = MacroFn(self, src, ns)
            cache[key] = fn
        return fn

    def namespace(self, package: str) -> dict[str, Any]:
        """The context dict for nodes of ``package`` (shared by all its renders and its macros)."""
        ns = self._namespaces.get(package)
        if ns is not None:
            return ns
        setup = self.setup
        # Jinja's own globals first (range is the sandbox's bounded one, dict, namespace, cycler …):
        # a shared context does not fall back to the environment's globals by itself.
        ns = {**self.text_env.globals, "__freshlens_macros__": {}}
        adapter = Stub()
        ns.update(
            {
                "ref": _ref,
                "source": _source,
                "config": ParseConfig(),
                "var": self._var,
                "env_var": self._env_var,
                "target": Target(setup.target),
                "execute": False,
                "is_incremental": _false,
                "this": _ThisProxy(Target(setup.target)),
                "model": _ModelProxy(),
                "graph": {"nodes": {}, "sources": {}, "macros": {}, "exposures": {}, "metrics": {}},
                "modules": _modules(),
                "return": _return,
                "log": _nothing,
                "print": _nothing,
                "exceptions": _Exceptions(),
                "fromjson": _fromjson,
                "tojson": _tojson,
                "fromyaml": _fromyaml,
                "toyaml": _toyaml,
                "zip": lambda *a: list(zip(*a, strict=False)),
                "set": lambda v=(): set(v),
                "local_md5": lambda s: hashlib.md5(str(s).encode()).hexdigest(),
                "run_query": _none,
                "load_result": _none,
                "statement": _nothing,
                "doc": _nothing,
                "project_name": setup.root,
                "dbt_version": "1.11.0",
                "run_started_at": datetime.datetime.now(datetime.UTC),
                "invocation_id": "00000000-0000-0000-0000-000000000000",
                "selected_resources": [],
                "flags": Stub(),
                "api": Stub(),
                "dbt": Stub(),
            }
        )
        ns["builtins"] = {"ref": _ref, "source": _source, "config": ns["config"]}
        ns["adapter"] = _Adapter(self._dispatch_for(ns), adapter)
        for pkg in setup.packages:
            if pkg in setup.macros:

                def lookup(name: str, pkg: str = pkg) -> Any:
                    src = setup.macros[pkg].get(name)
                    return self._macro_fn(ns, src) if src is not None else None

                ns[pkg] = _Namespace(pkg, lookup)
        # the root project's macros, then the node's own package's (which win), as dbt searches
        for pkg in (setup.root, package) if package != setup.root else (setup.root,):
            for name, src in setup.macros.get(pkg, {}).items():
                ns[name] = self._macro_fn(ns, src)
        self._namespaces[package] = ns
        return ns

    def render_string(self, text: str, package: str) -> str:
        """A string template (a var value) in the current render's context: text."""
        t = self._strings.get(text)
        if t is None:
            t = self.text_env.compile_template(text, STRING_FILE)
            self._strings[text] = t
        ns = self.namespace(package)
        return "".join(t.root_render_func(t.new_context(ns, shared=True)))


class _Adapter:
    def __init__(self, dispatch: Callable[..., Any], rest: Stub) -> None:
        self.dispatch = dispatch
        self._rest = rest

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._rest, name)


def bind(rec: Recorder) -> Any:
    """Make ``rec`` the current recorder; returns the token for ``unbind``."""
    return _CURRENT.set(rec)


def unbind(token: Any) -> None:
    _CURRENT.reset(token)
