"""The ``freshlens`` command: check, serve (and the state/plan commands where available)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from freshlens import __version__
from freshlens.model import Finding, Severity
from freshlens.workspace import Workspace


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2 with a clear message
        self.print_usage(sys.stderr)
        print(f"freshlens: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="freshlens", description="Validate dbt freshness/state configs and predict build or reuse."
    )
    p.add_argument("--version", action="version", version=f"freshlens {__version__}")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    c = sub.add_parser("check", help="report config problems (exit 1 on errors)")
    c.add_argument("paths", nargs="*", default=["."], help="project folders or files (default: .)")
    c.add_argument("--format", choices=("text", "json"), default="text")
    sub.add_parser("serve", help="run the language server over stdio")
    return p


def _relative(path: str, roots: list[str]) -> str:
    for r in roots:
        r = os.path.abspath(r)
        base = r if os.path.isdir(r) else os.path.dirname(r)
        if path == base or path.startswith(base + os.sep):
            return os.path.relpath(path, base)
    return os.path.relpath(path)


def check(paths: list[str], fmt: str) -> int:
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"freshlens: error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    roots = [os.path.abspath(p) for p in paths]
    folders = [r if os.path.isdir(r) else os.path.dirname(r) for r in roots]
    ws = Workspace(folders)
    ws.load()
    if not ws.projects:
        print(f"freshlens: error: no dbt_project.yml found under {', '.join(paths)}", file=sys.stderr)
        return 2
    files = [r for r in roots if os.path.isfile(r)]
    found: list[Finding] = [f for f in ws.all_findings() if not files or f.loc.path in files]
    if fmt == "json":
        out = {
            "version": 1,
            "diagnostics": [
                {
                    "file": _relative(f.loc.path, roots),
                    "line": f.loc.span.line + 1,
                    "column": f.loc.span.col + 1,
                    "end_line": f.loc.span.end_line + 1,
                    "end_column": f.loc.span.end_col + 1,
                    "severity": f.severity.label,
                    "code": f.code,
                    "message": f.message,
                }
                for f in found
            ],
        }
        print(json.dumps(out, indent=2))
    else:
        for f in found:
            sp = f.loc.span
            print(
                f"{_relative(f.loc.path, roots)}:{sp.line + 1}:{sp.col + 1}: {f.code} {f.severity.label} {f.message}"
            )
        errors = sum(1 for f in found if f.severity == Severity.ERROR)
        print(f"{len(found)} finding(s), {errors} error(s) in {len(ws.projects)} project(s)", file=sys.stderr)
    return 1 if any(f.severity == Severity.ERROR for f in found) else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "check":
        return check(args.paths, args.format)
    if args.cmd == "serve":
        from freshlens.lsp.server import serve

        serve()
        return 0
    _parser().print_help()
    return 2
