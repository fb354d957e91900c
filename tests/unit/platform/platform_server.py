"""A local stand-in for the dbt platform's Administrative API v2 (and its Discovery API), serving real
dbt runs' artifacts.

The runs are the ones recorded by ``tests/fixtures/platform/record_runs.py`` (real dbt-core + dbt-duckdb
runs of examples/jaffle_fresh). Responses follow the documented shapes: ``GET .../runs/`` pages with
``limit``/``offset`` and ``extra.pagination``, runs with ``run_steps``; ``GET .../runs/{id}/artifacts/
{name}?step=N`` gives the file or 404. ``faults`` makes chosen requests fail (status + headers), for
retry and interruption tests.

``POST /graphql`` answers the Discovery API's ``environment(id) { applied { sources(first, after) } }``
with the sources of the newest recorded run: their ``maxLoadedAt`` / ``freshnessStatus`` from that run's
``sources.json`` (what the platform's applied state shows after a job with source freshness), paged by
``first`` with ``pageInfo { hasNextPage endCursor }``; GraphQL ``errors`` for an unknown environment.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

RUNS = Path(__file__).resolve().parents[2] / "fixtures" / "platform" / "runs"
ACCOUNT = "42"
JOB = 7
ENV = 9
TOKEN = "dbtc_test-secret-token-never-printed"
STEP_NAMES = {
    1: "Clone git repository",
    2: "Create profile from connection duckdb",
    3: "Invoke dbt with `dbt deps`",
    4: "Invoke dbt with `dbt source freshness`",
    5: "Invoke dbt with `dbt build`",
    6: "Invoke dbt with `dbt docs generate`",
}


@dataclass
class Fault:
    path_part: str  # the fault applies to request paths containing this
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1  # how many requests fail; -1 = all


@dataclass
class Platform:
    runs: list[dict[str, Any]] = field(default_factory=list)  # newest last
    artifacts: dict[tuple[int, int, str], bytes] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    url: str = ""
    graphql: list[dict[str, Any]] = field(default_factory=list)  # the Discovery API's request bodies


def recorded_platform() -> Platform:
    """Runs 101-103 are the three recorded real runs; 104 saved no artifacts; 105 is still running."""
    plat = Platform()
    for n, run_id in ((1, 101), (2, 102), (3, 103)):
        steps = []
        for k, step in ((1, 4), (2, 5), (3, 6)):
            d = RUNS / str(n) / f"step{k}"
            if not d.is_dir():
                continue
            steps.append(step)
            for f in d.glob("*.json.gz"):
                plat.artifacts[(run_id, step, f.name[:-3])] = gzip.decompress(f.read_bytes())
        plat.runs.append(_run(run_id, 10, [1, 2, 3, *steps], docs=6 in steps))
    plat.runs.append(_run(104, 20, [1, 2], docs=False, saved=False))
    plat.runs.append(_run(105, 3, [1, 2, 3], docs=False, complete=False))
    return plat


def _run(
    run_id: int, status: int, steps: list[int], *, docs: bool, saved: bool = True, complete: bool = True
) -> dict[str, Any]:
    return {
        "id": run_id,
        "account_id": int(ACCOUNT),
        "job_definition_id": JOB,
        "environment_id": ENV,
        "status": status,
        "status_humanized": {10: "Success", 20: "Error", 3: "Running"}[status],
        "is_complete": complete,
        "finished_at": f"2026-12-01 0{run_id - 100}:05:00.000000+00:00" if complete else None,
        "artifacts_saved": saved,
        "has_docs_generated": docs,
        "has_sources_generated": True,
        "run_steps": [{"index": i, "name": STEP_NAMES[i], "status": 10} for i in steps],
    }


class _Handler(BaseHTTPRequestHandler):
    platform: Platform

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = {"status": {"code": status, "is_success": False, "user_message": message}, "data": None}
        self._send(status, json.dumps(body).encode(), headers)

    def do_POST(self) -> None:
        plat = self.platform
        plat.requests.append("POST " + self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._error(401, "Invalid token")
        for fault in plat.faults:
            if fault.path_part in self.path and fault.times != 0:
                fault.times -= 1
                return self._error(fault.status, "fault", fault.headers)
        if self.path != "/graphql":
            return self._error(404, "Not found")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        plat.graphql.append(body)
        v = body.get("variables") or {}
        if "applied" not in body.get("query", "") or v.get("environmentId") != ENV:
            answer = {
                "data": {"environment": None},
                "errors": [{"message": f"Environment {v.get('environmentId')} not found"}],
            }
            return self._send(200, json.dumps(answer).encode())
        nodes = applied_sources(plat)
        start = int(v["after"]) if v.get("after") else 0
        page = nodes[start : start + int(v.get("first") or 100)]
        end = start + len(page)
        sources = {
            "pageInfo": {"hasNextPage": end < len(nodes), "endCursor": str(end)},
            "edges": [{"node": n} for n in page],
        }
        answer = {"data": {"environment": {"applied": {"sources": sources}}}}
        return self._send(200, json.dumps(answer).encode())

    def do_GET(self) -> None:
        plat = self.platform
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        plat.requests.append(self.path)
        if self.headers.get("Authorization") != f"Token {TOKEN}":
            return self._error(401, "Invalid token")
        for fault in plat.faults:
            if fault.path_part in url.path and fault.times != 0:
                fault.times -= 1
                return self._error(fault.status, "fault", fault.headers)
        prefix = f"/api/v2/accounts/{ACCOUNT}/runs/"
        if not url.path.startswith(prefix):
            return self._error(404, "Not found")
        rest = url.path[len(prefix) :]
        if rest == "":
            runs = [
                r
                for r in plat.runs
                if ("job_definition_id" not in q or str(r["job_definition_id"]) == q["job_definition_id"])
                and ("environment_id" not in q or str(r["environment_id"]) == q["environment_id"])
            ]
            runs.sort(key=lambda r: r["id"], reverse=q.get("order_by") == "-id")
            off, lim = int(q.get("offset", 0)), min(int(q.get("limit", 100)), 100)
            page = runs[off : off + lim]
            body = {
                "status": {"code": 200, "is_success": True},
                "data": page,
                "extra": {
                    "filters": {},
                    "order_by": q.get("order_by"),
                    "pagination": {"count": len(page), "total_count": len(runs)},
                },
            }
            return self._send(200, json.dumps(body).encode())
        parts = rest.split("/")
        if len(parts) == 3 and parts[1] == "artifacts" and parts[0].isdigit():
            run_id = int(parts[0])
            run = next((r for r in plat.runs if r["id"] == run_id), None)
            if run is None:
                return self._error(404, "Run not found")
            step = int(q["step"]) if "step" in q else max(s["index"] for s in run["run_steps"])
            data = plat.artifacts.get((run_id, step, parts[2]))
            if data is None:
                return self._error(404, f"{parts[2]} not found for step {step}")
            return self._send(200, data)
        return self._error(404, "Not found")


def applied_sources(plat: Platform) -> list[dict[str, Any]]:
    """The Discovery API's source nodes: every source of the newest run's manifest, with the freshness
    its sources.json measured (none for a source it did not measure)."""
    newest = max(r for (r, _, name) in plat.artifacts if name == "sources.json")
    manifest = json.loads(
        next(v for (r, _, n), v in plat.artifacts.items() if r == newest and n == "manifest.json")
    )
    measured = {
        res["unique_id"]: res
        for (r, _, n), v in plat.artifacts.items()
        if r == newest and n == "sources.json"
        for res in json.loads(v)["results"]
    }
    out = []
    for uid, src in sorted(manifest["sources"].items()):
        m = measured.get(uid)
        out.append(
            {
                "uniqueId": uid,
                "name": src["name"],
                "sourceName": src["source_name"],
                "freshness": None
                if m is None
                else {
                    "maxLoadedAt": m.get("max_loaded_at"),
                    "maxLoadedAtTimeAgoInS": m.get("max_loaded_at_time_ago_in_s"),
                    "freshnessStatus": str(m.get("status", "")).capitalize(),
                },
            }
        )
    return out


class serve_platform:
    """Context manager: the platform on 127.0.0.1, a free port; yields the Platform with ``url`` set."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        handler = type("Handler", (_Handler,), {"platform": platform})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        platform.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self.thread.start()
        return self.platform

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
