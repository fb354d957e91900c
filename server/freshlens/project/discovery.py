"""Find dbt projects and their files: ``dbt_project.yml``, resource paths, ``.dbtignore``, packages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from freshlens.project.reading import read_bytes, read_text
from freshlens.project.yamlpos import YamlError, YMap, parse_yaml

SKIP_DIRS = {".git", "node_modules", "target", "logs", ".venv", "venv", "__pycache__", ".freshlens", ".tox"}


def find_project_files(root: str) -> list[str]:
    """Every ``dbt_project.yml`` under ``root`` (not inside installed packages), sorted."""
    found: list[str] = []
    root = os.path.abspath(root)
    if os.path.isfile(root):
        return [root] if os.path.basename(root) == "dbt_project.yml" else []
    for dirpath, dirnames, filenames in os.walk(root):
        if "dbt_project.yml" in filenames:
            found.append(os.path.join(dirpath, "dbt_project.yml"))
        # not: VCS/tool folders, build output (target/), installed packages of any project
        # (dbt_packages/, node_modules/) and virtualenvs under any name (they hold a pyvenv.cfg)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and d not in ("dbt_packages", "site-packages")
            and not os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg"))
        )
    return sorted(found)


def _glob_to_regex(glob: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = glob.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                out.append("[" + glob[i + 1 : j].replace("!", "^", 1) + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class IgnoreRules:
    """A small gitignore-style matcher for ``.dbtignore`` (patterns, ``!`` negation, ``/`` anchors)."""

    def __init__(self, lines: list[str]) -> None:
        self.rules: list[tuple[re.Pattern[str], bool, bool]] = []
        for raw in lines:
            line = raw.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            line = line.lstrip("/")
            rx = _glob_to_regex(line)
            pattern = re.compile(rx if anchored else r"(?:.*/)?" + rx)
            self.rules.append((pattern, negate, dir_only))

    def ignored(self, rel: str, is_dir: bool = False) -> bool:
        rel = rel.replace(os.sep, "/")
        result = False
        parts = rel.split("/")
        # a file is ignored when it or any parent directory matches
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            sub_is_dir = is_dir or i < len(parts)
            for pattern, negate, dir_only in self.rules:
                if dir_only and not sub_is_dir:
                    continue
                if pattern.fullmatch(sub):
                    result = not negate
        return result


def load_ignore(project_dir: str) -> IgnoreRules:
    p = os.path.join(project_dir, ".dbtignore")
    try:
        return IgnoreRules(read_bytes(p).decode("utf-8", errors="replace").splitlines())
    except OSError:
        return IgnoreRules([])


@dataclass(slots=True)
class ResourceFiles:
    """Files of one project, by role. Paths are absolute; ``rel`` maps them to resource-path-relative form."""

    sql_models: list[str] = field(default_factory=list)
    py_models: list[str] = field(default_factory=list)
    props: list[str] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    analyses: list[str] = field(default_factory=list)
    macros: list[str] = field(default_factory=list)
    # absolute file path -> (resource root it was found under, path relative to that root)
    rel: dict[str, tuple[str, str]] = field(default_factory=dict)


def _walk(
    base: str, project_dir: str, ignore: IgnoreRules, unsaved: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if os.path.isdir(base):
        for dirpath, dirnames, filenames in os.walk(base):
            keep = []
            for d in sorted(dirnames):
                if d in SKIP_DIRS or d.startswith("."):
                    continue
                if not ignore.rules or not ignore.ignored(
                    os.path.relpath(os.path.join(dirpath, d), project_dir), True
                ):
                    keep.append(d)
            dirnames[:] = keep
            for f in sorted(filenames):
                full = os.path.join(dirpath, f)
                if ignore.rules and ignore.ignored(os.path.relpath(full, project_dir)):
                    continue
                rel = full[len(base) + 1 :] if full.startswith(base + os.sep) else os.path.relpath(full, base)
                out.append((full, rel))
    for full in unsaved:  # open in the editor, not (or no longer) on disk: the buffer is the file
        if not full.startswith(base + os.sep):
            continue
        rel = full[len(base) + 1 :]
        if any(d in SKIP_DIRS or d.startswith(".") for d in rel.split(os.sep)[:-1]):
            continue
        if ignore.rules and ignore.ignored(os.path.relpath(full, project_dir)):
            continue
        out.append((full, rel))
    return out


def list_resource_files(
    project_dir: str,
    model_paths: list[str],
    seed_paths: list[str],
    snapshot_paths: list[str],
    analysis_paths: list[str],
    macro_paths: list[str] | None = None,
    unsaved: tuple[str, ...] = (),
) -> ResourceFiles:
    """The project's files by role. ``unsaved`` are files open in the editor that are not on disk
    (deleted under an open buffer, or new and not saved yet): listed where they would be."""
    ignore = load_ignore(project_dir)
    out = ResourceFiles()

    def base(p: str) -> str:
        return os.path.normpath(os.path.join(project_dir, p))

    # (resource paths, file kinds by extension): properties YAML can sit in any of them
    roles: list[tuple[list[str], dict[str, list[str]], bool]] = [
        (model_paths, {".sql": out.sql_models, ".py": out.py_models}, True),
        (seed_paths, {".csv": out.seeds, ".parquet": out.seeds}, True),
        (snapshot_paths, {".sql": out.snapshots}, True),
        (analysis_paths, {".sql": out.analyses}, True),
        (macro_paths or [], {".sql": out.macros}, False),
    ]
    for paths, kinds, has_props in roles:
        for rp in paths:
            b = base(rp)
            for full, rel in _walk(b, project_dir, ignore, unsaved):
                ext = os.path.splitext(full)[1]
                if ext in kinds:
                    kinds[ext].append(full)
                elif has_props and ext in (".yml", ".yaml"):
                    out.props.append(full)
                else:
                    continue
                if has_props:
                    out.rel[full] = (b, rel)
    # de-duplicate (a folder listed twice, or nested resource paths)
    for name in ("sql_models", "py_models", "props", "seeds", "snapshots", "analyses", "macros"):
        lst = getattr(out, name)
        setattr(out, name, list(dict.fromkeys(lst)))
    return out


def profiles_files(project_dir: str) -> list[str]:
    """Where dbt looks for ``profiles.yml``, in its order: the project, ``DBT_PROFILES_DIR``, ``~/.dbt``."""
    out = [os.path.join(project_dir, "profiles.yml")]
    env = os.environ.get("DBT_PROFILES_DIR")
    if env:
        out.append(os.path.join(env, "profiles.yml"))
    out.append(os.path.join(os.path.expanduser("~"), ".dbt", "profiles.yml"))
    return out


def profiles_documents(project_dir: str) -> Iterator[YMap]:
    """Each ``profiles.yml`` of :func:`profiles_files` that reads as a mapping, parsed, in dbt's order;
    a missing, unreadable or malformed one is passed over (the one after it may hold the profile)."""
    for path in profiles_files(project_dir):
        try:
            node = parse_yaml(read_text(path))
        except (OSError, YamlError, UnicodeDecodeError):
            continue
        if isinstance(node, YMap):
            yield node


def installed_packages(project_dir: str, install_path: str) -> list[str]:
    """``dbt_packages/*/dbt_project.yml`` of installed packages (read-only)."""
    base = os.path.join(project_dir, install_path)
    out: list[str] = []
    if not os.path.isdir(base):
        return out
    for d in sorted(os.listdir(base)):
        p = os.path.join(base, d, "dbt_project.yml")
        if os.path.isfile(p):
            out.append(p)
    return out
