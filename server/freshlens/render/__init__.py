"""Parse-time rendering of dbt Jinja in a sandbox, as ``dbt parse`` does it (``execute`` false).

``context`` rebuilds dbt's parse context (ref/source/config recorders, var, env_var, target,
macros, adapter.dispatch); ``sandbox`` holds the Jinja2 environments and the render budget;
``nodes`` decides what needs rendering and turns what a render saw into the index's calls;
``project`` builds a project's ``Setup`` from its parsed files and applies renders to the index.
"""

from freshlens.render.context import MacroSource, Setup, macros_in
from freshlens.render.nodes import NodeRender, Renderer

__all__ = ["MacroSource", "NodeRender", "Renderer", "Setup", "macros_in"]
