"""The plan as a report people look at: a table of every model and the lineage graph, coloured by
predicted action, with the path new data takes highlighted.

Where a change goes:

* ``model``    — from a ``PlanResult`` and its project index to the report's data (rows, graph, summary)
* ``markdown`` — the GitHub-flavoured Markdown a CI job posts on a pull request
* ``html``     — one self-contained HTML file (the graph libraries and ``assets/report.js`` inlined)
* ``assets/``  — ``report.js`` / ``report.css`` (the table and graph UI, shared with the VS Code
  webview) and ``vendor/`` (cytoscape + cytoscape-dagre, written by ``scripts/build-report-assets.sh``)

Pure: no pygls, no I/O besides reading the package's own assets.
"""

from freshlens.report.model import build_report, summary_line

__all__ = ["build_report", "summary_line"]
