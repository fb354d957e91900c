"""The report as one self-contained HTML file: data, styles, the graph libraries and the UI inlined.

Nothing is fetched when the file is opened (a CI artifact opens offline); the page's
Content-Security-Policy forbids every network request, so a mistake here fails loudly instead of
quietly reaching out.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from importlib import resources
from typing import Any

# In load order: the renderer, its layout extension (with dagre bundled), then the report UI.
SCRIPTS = ("vendor/cytoscape.min.js", "vendor/cytoscape-dagre.min.js", "report.js")
STYLES = ("report.css",)
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


@cache
def asset(name: str) -> str:
    """The text of a file under ``freshlens/report/assets/`` (installed with the package)."""
    return resources.files("freshlens.report").joinpath("assets", name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    # Inside <script>, "</script" (any case) would end the element early; "<\/" means the same in JS.
    return re.sub(r"</(?=script)", r"<\\/", text, flags=re.IGNORECASE)


def data_json(report: dict[str, Any]) -> str:
    """The report as JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(report, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(report: dict[str, Any]) -> str:
    """The HTML document for ``report`` (from ``build_report``)."""
    title = html.escape(f"freshlens plan — {report['summary']}")
    styles = "\n".join(asset(n) for n in STYLES)
    scripts = "\n".join(f"<script>/* {n} */\n{_script_safe(asset(n))}\n</script>" for n in SCRIPTS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="freshlens">
<title>{title}</title>
<!-- Graph rendering: cytoscape; layout: cytoscape-dagre with @dagrejs/dagre (MIT licenses, see each file's header). -->
<style>
html, body {{ margin: 0; }}
{styles}
</style>
</head>
<body>
<div id="freshlens-report"><noscript>This report needs JavaScript for its table and graph; `freshlens plan --format markdown` gives the same report as text.</noscript></div>
<script type="application/json" id="freshlens-report-data">{data_json(report)}</script>
{scripts}
</body>
</html>
"""
