"""Edges the render could not see, taken from the last build's manifest when the code is unchanged.

A model whose Jinja freshlens could not render (FL012) has only the parents a static read finds.
When the state holds that model's last build and its ``raw_code`` is exactly the file's text now, the
``depends_on.nodes`` dbt recorded then is what dbt would find now too (same code; the vars and macros
it depends on may have moved, which the explanation says): those parents are added for planning, and
the node remembers which they are so the lens and the explanation can say where they came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from freshlens.index import ProjectIndex
from freshlens.planner.code_change import raw_code
from freshlens.state.snapshot import StateSnapshot


def fill_from_state(idx: ProjectIndex, state: StateSnapshot, file_text: Mapping[str, str]) -> None:
    """Give each un-rendered model the parents its last build's manifest lists (code unchanged)."""
    for node in idx.nodes.values():
        if node.state_parents:  # from an earlier plan: start again from the index's own parents
            node.parents = [p for p in node.parents if p not in node.state_parents]
            node.state_parents = []
        if node.render is None or node.render.ok or node.path is None:
            continue
        ns = state.node(node.unique_id)
        fp = ns.fingerprint if ns is not None else None
        text = file_text.get(node.path)
        if fp is None or text is None:
            continue
        if hashlib.sha256(raw_code(node, text).encode("utf-8")).hexdigest() != fp.raw_code_sha256:
            continue
        known = set(idx.nodes) | set(idx.sources)
        extra = [
            p for p in fp.depends_on_nodes if p in known and p not in node.parents and p != node.unique_id
        ]
        node.parents = [*node.parents, *extra]
        node.state_parents = extra
