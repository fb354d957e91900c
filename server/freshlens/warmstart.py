"""Warm start: the findings of a project's last complete check, reused while nothing they depend on changed.

Reading and parsing 10,000 files is most of a cold start. A project's findings are a function of:

- its files and its installed packages' files: every file the indexer lists (models, properties,
  seeds, snapshots, analyses, macros) and each package's ``dbt_project.yml``;
- a few files around them: ``.dbtignore``, ``catalog.json`` (relation types), the ``profiles.yml``
  dbt would use (the target), and which packages are installed;
- the settings they were checked with: vars, the environment (only when ``env_var()`` may read
  it), the engine, severity overrides;
- freshlens itself (its version and its code).

After a complete check, :func:`save` writes the findings with a fingerprint of all of that to
``<project>/.freshlens/cache/findings-v1.json``; :func:`load` gives them back only when the
fingerprint is the same now: the same settings, the same list of files, and each file with the
same size and modification time. A file modified within :data:`RACY_S` of the check could change
again within the clock's resolution without its time changing, so it also carries a hash of the
text that was checked, compared on load (the "racy" files of git's index).

The file is JSON (nothing in it is executed: a cache committed to a repository cannot run code),
safe to delete, written atomically, and ignored when unreadable. Any difference means a cold start:
the language server publishes the cached findings at once and still builds the index behind them,
republishing whatever differs, so a cache that were wrong would be corrected within the cold time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

from freshlens import __version__
from freshlens.model import Finding, Loc, Related, Severity, Span
from freshlens.project import discovery

FORMAT = 1
FILE_NAME = f"findings-v{FORMAT}.json"
RACY_S = 2.0
_ROLES = ("sql_models", "py_models", "props", "seeds", "snapshots", "analyses", "macros")

Stat = list[int]  # [size, mtime_ns]; [] when the file does not exist


def cache_path(project_dir: str) -> str:
    return os.path.join(project_dir, ".freshlens", "cache", FILE_NAME)


def _stat(path: str) -> Stat:
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_size, st.st_mtime_ns]


_CODE: str | None = None


def code_fingerprint() -> str:
    """freshlens' version and the size and time of each of its modules (an edited checkout counts)."""
    global _CODE
    if _CODE is None:
        h = hashlib.sha256(__version__.encode())
        pkg = os.path.dirname(os.path.abspath(__file__))
        for dirpath, dirnames, filenames in os.walk(pkg):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in sorted(filenames):
                if f.endswith(".py"):
                    p = os.path.join(dirpath, f)
                    h.update(f"{os.path.relpath(p, pkg)}:{_stat(p)}\n".encode())
        _CODE = h.hexdigest()
    return _CODE


def settings_key(
    vars: dict[str, Any], env: dict[str, str] | None, engine: str, overrides: dict[str, str]
) -> str:
    h = hashlib.sha256()
    h.update(
        json.dumps(
            [FORMAT, code_fingerprint(), vars, engine, overrides], sort_keys=True, default=str
        ).encode()
    )
    if env is not None:  # env_var() may read the environment: its values are inputs
        h.update(json.dumps(sorted(env.items())).encode("utf-8", "surrogatepass"))
    h.update(os.environ.get("DBT_PROFILES_DIR", "").encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def around_files(project_dir: str, target_path: str) -> list[str]:
    """Files outside the listings that a check reads: profiles.yml (where dbt looks), catalog.json."""
    return [*discovery.profiles_files(project_dir), os.path.join(project_dir, target_path, "catalog.json")]


def _rel(path: str, base: str) -> str:
    """``os.path.relpath`` for the common case, without its cost on 10,000 paths."""
    if path.startswith(base + os.sep):
        return path[len(base) + 1 :]
    return os.path.relpath(path, base)


def _hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _listed(files: discovery.ResourceFiles) -> list[str]:
    return sorted({p for role in _ROLES for p in getattr(files, role)})


# -- writing --------------------------------------------------------------------------------------


def _loc(loc: Loc, base: str) -> list[Any]:
    sp = loc.span
    return [_rel(loc.path, base), sp.line, sp.col, sp.end_line, sp.end_col]


def _finding_out(f: Finding, base: str) -> list[Any]:
    return [
        f.code,
        int(f.severity),
        f.message,
        _loc(f.loc, base),
        f.rule,
        [[_loc(r.loc, base), r.message] for r in f.related],
        [list(kv) for kv in f.data],
    ]


def save(
    project_dir: str,
    settings: str,
    packages: dict[str, tuple[dict[str, list[str]], discovery.ResourceFiles]],
    installed: list[str],
    target_path: str,
    findings: dict[str, list[Finding]],
    text_of: Callable[[str], str | None],
    started: float,
) -> None:
    """Write the cache after a complete check that started at ``started`` (``time.time()``).

    ``packages`` maps each package folder (the project's own first) to the resource paths it was
    listed with and what the listing found; ``text_of`` gives the text a file was checked with.
    """
    racy_after = (started - RACY_S) * 1e9
    pkgs = []
    for pdir, (paths, files) in packages.items():
        entries: dict[str, list[Any]] = {}
        for p in [os.path.join(pdir, "dbt_project.yml"), os.path.join(pdir, ".dbtignore"), *_listed(files)]:
            st = _stat(p)
            entry: list[Any] = list(st)
            if st and st[1] >= racy_after:
                text = text_of(p)
                if text is None:
                    return  # a racy file we did not read (a seed): too new to trust, no cache this time
                entry.append(_hash_text(text))
            entries[_rel(p, project_dir)] = entry
        pkgs.append({"dir": os.path.relpath(pdir, project_dir), "paths": paths, "files": entries})
    around = {p: _stat(p) for p in around_files(project_dir, target_path)}
    if any(st and st[1] >= racy_after for st in around.values()):
        return
    data = {
        "format": FORMAT,
        "settings": settings,
        "installed": [os.path.relpath(p, project_dir) for p in installed],
        "packages": pkgs,
        "around": around,
        "findings": [_finding_out(f, project_dir) for lst in findings.values() for f in lst],
        "files": sorted(_rel(p, project_dir) for p in findings),
    }
    text = json.dumps(data, separators=(",", ":"))
    path = cache_path(project_dir)
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as fh:
        if fh.read() == text:
            return  # unchanged: no write, no watcher event
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".findings-", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# -- reading --------------------------------------------------------------------------------------


def _loc_in(d: list[Any], base: str) -> Loc:
    return Loc(os.path.normpath(os.path.join(base, d[0])), Span(int(d[1]), int(d[2]), int(d[3]), int(d[4])))


def _finding_in(d: list[Any], base: str) -> Finding:
    code, sev, message, loc, rule, related, data = d
    return Finding(
        str(code),
        Severity(int(sev)),
        str(message),
        _loc_in(loc, base),
        str(rule),
        tuple(Related(_loc_in(r[0], base), str(r[1])) for r in related),
        tuple((str(k), str(v)) for k, v in data),
    )


def _same(path: str, entry: list[Any]) -> bool:
    st = _stat(path)
    if st != entry[:2]:
        return False
    if len(entry) > 2:  # racy when saved: the text decides
        try:
            with open(path, encoding="utf-8-sig") as fh:
                return bool(_hash_text(fh.read()) == entry[2])
        except (OSError, UnicodeDecodeError):
            return False
    return True


def load(project_dir: str, settings: str, installed: list[str]) -> dict[str, list[Finding]] | None:
    """The cached findings (every checked file a key, [] when clean) or None when anything differs.

    ``installed`` lists the installed packages' ``dbt_project.yml`` files now.
    """
    try:
        with open(cache_path(project_dir), encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("settings") != settings:
            return None
        for p, st in data["around"].items():
            if _stat(p) != st:
                return None
        now = sorted(os.path.relpath(p, project_dir) for p in installed)
        if now != data["installed"]:
            return None
        for pkg in data["packages"]:
            pdir = os.path.normpath(os.path.join(project_dir, pkg["dir"]))
            entries: dict[str, list[Any]] = pkg["files"]
            rel = os.path.relpath(os.path.join(pdir, "dbt_project.yml"), project_dir)
            if rel not in entries or not _same(os.path.join(project_dir, rel), entries[rel]):
                return None  # its resource paths may have changed: the listing below would be wrong
            paths = pkg["paths"]
            files = discovery.list_resource_files(
                pdir,
                paths["model_paths"],
                paths["seed_paths"],
                paths["snapshot_paths"],
                paths["analysis_paths"],
                paths["macro_paths"],
            )
            listed = {_rel(p, project_dir) for p in _listed(files)}
            expected = set(entries) - {rel, os.path.relpath(os.path.join(pdir, ".dbtignore"), project_dir)}
            if listed != expected:
                return None  # a file came or went
            for r, entry in entries.items():
                if r != rel and not _same(os.path.join(project_dir, r), entry):
                    return None
        out: dict[str, list[Finding]] = {os.path.join(project_dir, r): [] for r in data["files"]}
        for d in data["findings"]:
            f = _finding_in(d, project_dir)
            out.setdefault(f.loc.path, []).append(f)
        return out
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # unreadable or from another format: a cold start
