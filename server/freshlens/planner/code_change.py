"""Did the model's code change since its last build? Shared by both regimes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

from freshlens.index import Node, ProjectIndex
from freshlens.sql import code_key
from freshlens.state.artifacts import normalised_code
from freshlens.state.snapshot import NodeState

_SHAS: dict[str, str] = {}  # text -> its sha256: the editor re-plans every file every minute


def _sha(text: str) -> str:
    got = _SHAS.get(text)
    if got is None:
        if len(_SHAS) > 50_000:
            _SHAS.clear()  # bounded: the texts of a few re-plans of a 10,000-model project
        got = _SHAS[text] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return got


_SNAPSHOT_BLOCK = re.compile(r"\{%-?\s*snapshot\s+(\w+)\s*-?%\}(.*?)\{%-?\s*endsnapshot\s*-?%\}", re.DOTALL)


_RAW_SHAS: dict[str, str] = {}  # a model file's text -> the sha256 of its raw_code (its stripped text)


def _raw_sha(node: Node, file_text: str) -> str:
    """sha256 of ``raw_code(node, file_text)``, remembered per file text for models: the text objects
    live as long as the files are unchanged, their hash is cached in them, so a re-plan neither strips
    nor hashes them again (a snapshot's raw_code depends on its block: computed each time)."""
    if node.resource_type == "snapshot":
        return _sha(raw_code(node, file_text))
    got = _RAW_SHAS.get(file_text)
    if got is None:
        if len(_RAW_SHAS) > 50_000:
            _RAW_SHAS.clear()
        # hashed here, not through _sha: that would keep a stripped copy of every file as its key too
        got = _RAW_SHAS[file_text] = hashlib.sha256(file_text.strip().encode("utf-8")).hexdigest()
    return got


def raw_code(node: Node, file_text: str) -> str:
    """What dbt stores as ``raw_code``: the stripped file, or a snapshot block's body."""
    if node.resource_type == "snapshot":
        for m in _SNAPSHOT_BLOCK.finditer(file_text):
            if m.group(1) == node.name:
                return m.group(2)
    return file_text.strip()


def code_change(
    node: Node,
    ns: NodeState,
    file_text: str | None,
    macros: Mapping[str, str] | None = None,
    index: ProjectIndex | None = None,
    texts: Mapping[str, str] | None = None,
    *,
    recorded: str | Callable[[], str | None] | None = None,
    ignore_aliases: bool = True,
) -> tuple[str, bool]:
    """(what changed, cosmetic_only). ``""`` when nothing we can see changed.

    Compared with the last build's fingerprint: the SQL body (comments/whitespace-only edits are
    "cosmetic"), the materialization, the project's macros the model calls (spec sao.md C2
    `modified.macros`), and the relation (D4: database/schema/alias changes bust the cache).

    With ``recorded`` (the code of the last build, checked against its hash; or a function giving it,
    called only when the body changed) the two versions are
    also compared by SQL structure (sqlglot, :func:`freshlens.sql.semantic_key`): an edit that only
    changes layout, keyword case or — with ``ignore_aliases``, dbt State's semantic hash (spec
    dbt-state.md §4 C1) — table aliases is cosmetic too.
    """
    macros = macros or {}
    fp = ns.fingerprint
    if fp is None or file_text is None:
        return "", False
    body = ""  # a cosmetic body edit: reported only when nothing below changed
    if _raw_sha(node, file_text) != fp.raw_code_sha256:
        raw = raw_code(node, file_text)
        if _sha(normalised_code(raw)) == fp.normalised_code_sha256:
            body = "comments/whitespace only"
        elif callable(recorded):  # fetched only now: the last build's code is read when needed
            return code_change(
                node, ns, file_text, macros, index, texts, recorded=recorded(), ignore_aliases=ignore_aliases
            )
        elif recorded is not None and _sha(recorded) == fp.raw_code_sha256:
            adapter = index.adapter_type if index is not None else None
            old = code_key(recorded, adapter, ignore_aliases)
            if old is not None and old == code_key(raw, adapter, ignore_aliases):
                what = (
                    "layout, case, comments or table aliases"
                    if ignore_aliases
                    else "layout, case or comments"
                )
                body = f"formatting only (same SQL structure: {what})"
        if not body:
            return "SQL body", False
    mat = node.materialized
    if isinstance(mat, str) and fp.materialized and mat != fp.materialized:
        return f"materialization ({fp.materialized} → {mat})", False
    for eid, h in fp.ephemeral_code:
        enode = index.nodes.get(eid) if index is not None else None
        etext = texts.get(enode.path) if enode is not None and enode.path and texts is not None else None
        # its SQL is inlined here: any edit changes this model's compiled SQL
        if enode is not None and etext is not None and _raw_sha(enode, etext) != h:
            return f"ephemeral parent {enode.name}", False
    for mid, h in fp.macro_hashes:
        cur = macros.get(mid)
        if cur is not None and cur != h:
            return f"macro {mid.split('.')[-1]}", False
    alias = node.eff("alias").value
    ident = (
        alias if isinstance(alias, str) else (f"{node.name}_v{node.version}" if node.version else node.name)
    )
    if (
        fp.relation.identifier
        and node.resource_type == "model"
        and ident.lower() != fp.relation.identifier.lower()
    ):
        return f"relation ({fp.relation.identifier} → {ident})", False
    schema = node.eff("schema").value
    if (
        isinstance(schema, str)
        and fp.relation.schema
        and not fp.relation.schema.lower().endswith(schema.lower())
    ):
        return f"relation (schema {fp.relation.schema} → …{schema})", False
    return body, bool(body)
