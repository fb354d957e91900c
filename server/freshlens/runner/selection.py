"""Which nodes ``freshlens run`` hands to ``dbt build``, and how it names them to dbt.

How the selection reaches dbt: dbt-core reads YAML selectors only from ``selectors.yml`` at the
project root (``dbt/config/selectors.py`` resolves that one path; ``--selector`` takes a name defined
there, not a file), and ``--select`` has no environment variable or file form. Writing a generated
``selectors.yml`` would clobber, or have to edit, a file the user owns, and a copy elsewhere is never
read. So the selection goes on the command line as ``--select fqn:<package>.<path>.<name> …``, one
argument per node. A full fqn is also a prefix of the fqns of nodes inside a folder of the same name,
so such a node gets ``,path:<file>`` (intersection) to stay exact. Very large selections are cut into
chunks that keep the command line under the operating system's limit; chunks follow the DAG order,
so a parent is always built in the same or an earlier dbt invocation than its children.

``--select``/``--exclude`` of the user are resolved by the user's dbt itself (``dbt ls``), so they
mean exactly what they mean to dbt.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Sequence

from freshlens.index import Node, ProjectIndex

# Characters of selectors per dbt invocation: Windows' command line is limited to 32,767
# characters; on POSIX the limit (ARG_MAX, usually 2 MiB with the environment) is far away.
CHUNK_CHARS = 24_000 if os.name == "nt" else 200_000


def _flat(fqn: Sequence[str]) -> list[str]:
    return [part for seg in fqn for part in seg.split(".")]


def dbt_fqn(node: Node) -> list[str]:
    """The node's fqn as dbt writes it (a versioned model ends in ``<name>, v<version>``, as the index has it)."""
    return list(node.fqn)


def node_selectors(idx: ProjectIndex, uids: Iterable[str]) -> list[str]:
    """One exact dbt selector per node, in the given order."""
    uids = list(uids)
    if not uids:  # everything reused: no need to know every node's fqn
        return []
    flats = {uid: tuple(_flat(dbt_fqn(n))) for uid, n in idx.nodes.items()}
    # every proper prefix of some node's fqn: a selector equal to one of them selects more than one node
    prefixes = {f[:i] for f in flats.values() for i in range(1, len(f))}
    out: list[str] = []
    for uid in uids:
        node: Node = idx.nodes[uid]
        sel = "fqn:" + ".".join(flats[uid])
        if flats[uid] in prefixes and node.path:
            sel += ",path:" + os.path.relpath(node.path, idx.dir).replace(os.sep, "/")
        out.append(sel)
    return out


def chunks(selectors: list[str], limit: int = CHUNK_CHARS) -> list[list[str]]:
    """Consecutive runs of selectors whose total length stays under ``limit``."""
    out: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for s in selectors:
        if cur and size + len(s) + 1 > limit:
            out.append(cur)
            cur, size = [], 0
        cur.append(s)
        size += len(s) + 1
    if cur:
        out.append(cur)
    return out


class SelectionError(Exception):
    """``dbt ls`` could not resolve the user's --select/--exclude."""


def dbt_ls(
    dbt_cmd: list[str],
    project_dir: str,
    env: dict[str, str],
    select: list[str],
    exclude: list[str],
    extra: list[str],
) -> set[str]:
    """Unique ids of the models, seeds and snapshots the user's dbt selects with these arguments."""
    cmd = [*dbt_cmd, "--quiet", "ls", "--resource-type", "model", "seed", "snapshot"]
    if select:
        cmd += ["--select", *select]
    if exclude:
        cmd += ["--exclude", *exclude]
    cmd += ["--output", "json", "--output-keys", "unique_id", *extra]
    proc = subprocess.run(cmd, cwd=project_dir, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise SelectionError(
            f"`dbt ls` could not resolve --select/--exclude (exit {proc.returncode}):\n{detail}"
        )
    out: set[str] = set()
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            uid = json.loads(line).get("unique_id")
        except json.JSONDecodeError:
            continue
        if isinstance(uid, str):
            out.add(uid)
    return out
