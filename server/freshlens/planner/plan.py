"""Walk the project in DAG order and decide each model under one regime (SAO or dbt State).

Pure: takes the project index, a state snapshot, current source freshness and a clock; returns
``Decision`` values. Models are evaluated in DAG order, so a parent predicted to build counts as new
data for its children in the same run.
"""

from __future__ import annotations

from freshlens.index import ProjectIndex
from freshlens.planner.core import Decision, PlanInputs
from freshlens.planner.dbt_state import decide_state
from freshlens.planner.sao import decide_sao
from freshlens.planner.state_edges import fill_from_state


def choose_regime(index: ProjectIndex, setting: str) -> str:
    if setting in ("sao", "dbt-state"):
        return setting
    return "dbt-state" if any("state" in n.settings for n in index.nodes.values()) else "sao"


def plan(inp: PlanInputs) -> dict[str, Decision]:
    """Every model's decision, keyed by unique id in DAG order (parents first), which callers rely on."""
    out: dict[str, Decision] = {}
    idx = inp.index
    fill_from_state(idx, inp.state, inp.file_text)
    for uid in idx.topo_order():
        node = idx.nodes[uid]
        if node.resource_type != "model" and node.resource_type not in ("seed", "snapshot"):
            continue
        if node.package != idx.name or node.eff("enabled").value is False:
            continue  # a disabled node is not in dbt's DAG: nothing runs, nothing to predict
        d = decide_sao(node, inp, out) if inp.regime == "sao" else decide_state(node, inp, out)
        out[uid] = d
    return out
