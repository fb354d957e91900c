"""The language server measured at its boundary: a client over stdio, as an editor talks to it.

    .venv/bin/python -m bench.lsp [--sizes 2000,10000] [--variant plain|jinja] [--requests 200]

Per synthetic project (``bench.synth``), each figure from a fresh ``freshlens serve`` process:

- **start, cold and warm**: from sending ``initialize`` to (a) complete diagnostics, the moment the
  files with findings and their number of diagnostics equal what ``freshlens check`` reports, and
  (b) the index ready, the first code-lens request answered. Cold: no ``.freshlens/cache``; warm:
  the cache the previous start left (the median of ``--repeats`` starts each);
- **requests** on the warm server, p50/p95/max over ``--requests`` each, on random models: code
  lens of a model's SQL file; hover on a ``ref()``; completion inside ``ref('…')``;
- **typing**: open a model, then edits one at a time, each followed by a pause, timed from sending
  ``didChange`` to that file's ``publishDiagnostics`` (p50/p95);
- **memory**: the server's resident set (VmRSS) once ready;
- with ``--projects N``: one workspace of N projects of ``--sizes`` models each (``--sizes 1500
  --projects 20``: 30,000 models), indexed by one server: start times and RSS, and RSS per 1,000 models
  over an empty workspace's.

Results go to ``bench/results/<date>-<cpus>cpu-<machine>-lsp.json`` and a table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from bench import synth

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = re.compile(r"ref\('([^']+)'\)")


def _caps() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(workspace_folders=True),
        text_document=types.TextDocumentClientCapabilities(
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(snippet_support=True)
            ),
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
        ),
        general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    )


def expected_diagnostics(root: str) -> dict[str, int]:
    """What ``freshlens check`` reports: file URI -> number of diagnostics."""
    out = subprocess.run(
        [sys.executable, "-m", "freshlens", "check", "--format", "json", "--no-cache", root],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    counts: dict[str, int] = {}
    for d in json.loads(out.stdout)["diagnostics"]:
        uri = Path(os.path.join(root, d["file"])).resolve().as_uri()
        counts[uri] = counts.get(uri, 0) + 1
    return counts


class Probe:
    """One server process and the client side of it."""

    def __init__(self, root: str, expected: dict[str, int]) -> None:
        self.root, self.expected = root, expected
        self.client = LanguageClient("freshlens-bench", "1")
        self.counts: dict[str, int] = {}
        self.published: dict[str, float] = {}  # uri -> time of its last publishDiagnostics
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.complete: asyncio.Future[float] | None = None
        self.t0 = 0.0
        c = self.client

        @c.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diags(params: types.PublishDiagnosticsParams) -> None:
            now = time.perf_counter()
            if params.diagnostics:
                self.counts[params.uri] = len(params.diagnostics)
            else:
                self.counts.pop(params.uri, None)
            self.published[params.uri] = now
            w = self.waiters.pop(params.uri, None)
            if w is not None and not w.done():
                w.set_result(now)
            if self.complete is not None and not self.complete.done() and self.counts == self.expected:
                self.complete.set_result(now)

        @c.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _progress(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @c.feature(types.CLIENT_REGISTER_CAPABILITY)
        def _register(params: types.RegistrationParams) -> None:
            return None

        @c.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def _refresh(params: None) -> None:
            return None

    async def start(self, lens_file: str, pause: float) -> dict[str, float]:
        """Spawn the server, wait ``pause`` s (0: initialize at once, as an editor does; 2: after the
        interpreter's start and imports), then initialize; times from sending ``initialize``."""
        loop = asyncio.get_running_loop()
        self.complete = loop.create_future()
        await self.client.start_io(sys.executable, "-m", "freshlens", "serve")
        await asyncio.sleep(pause)
        uri = Path(self.root).as_uri()
        self.t0 = time.perf_counter()
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=_caps(),
                root_uri=uri,
                workspace_folders=[types.WorkspaceFolder(uri=uri, name="bench")],
            )
        )
        self.client.initialized(types.InitializedParams())
        if not self.expected:  # nothing to report (an empty workspace): nothing will be published
            self.complete.set_result(time.perf_counter())
        done = await asyncio.wait_for(self.complete, timeout=300)
        await self.lens(lens_file)
        ready = time.perf_counter()
        return {"diagnostics_s": done - self.t0, "ready_s": ready - self.t0}

    async def lens(self, path: str) -> Any:
        p = types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=Path(path).as_uri()))
        return await self.client.text_document_code_lens_async(p)

    async def hover(self, path: str, line: int, col: int) -> Any:
        p = types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=Path(path).as_uri()),
            position=types.Position(line=line, character=col),
        )
        return await self.client.text_document_hover_async(p)

    async def complete_at(self, path: str, line: int, col: int) -> Any:
        p = types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=Path(path).as_uri()),
            position=types.Position(line=line, character=col),
        )
        return await self.client.text_document_completion_async(p)

    def rss_mb(self) -> float:
        proc = getattr(self.client, "_server", None)
        pid = getattr(proc, "pid", None)
        if pid is None:
            return float("nan")
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def _pcts(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {
        "p50_ms": 1000 * statistics.median(xs),
        "p95_ms": 1000 * xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))],
        "max_ms": 1000 * xs[-1],
        "n": len(xs),
    }


def _ref_sites(files: list[str]) -> list[tuple[str, int, int]]:
    """(file, line, column inside the quoted name) of ref() calls."""
    out = []
    for f in files:
        for i, line in enumerate(Path(f).read_text(encoding="utf-8").split("\n")):
            for m in REF.finditer(line):
                out.append((f, i, m.start(1) + 1))
    return out


async def measure(root: str, repeats: int, n_requests: int, n_edits: int, seed: int) -> dict[str, Any]:
    rnd = random.Random(seed)
    sql = synth.sql_files(root)
    sites = _ref_sites(rnd.sample(sql, min(len(sql), 400)))
    expected = expected_diagnostics(root)
    out: dict[str, Any] = {"files_with_diagnostics": len(expected), "diagnostics": sum(expected.values())}
    probe: Probe | None = None
    for cache in ("cold", "warm"):
        for label, pause in (("", 2.0), ("_from_spawn", 0.0)):
            runs = []
            for _ in range(repeats):
                if cache == "cold":
                    shutil.rmtree(os.path.join(root, ".freshlens", "cache"), ignore_errors=True)
                if probe is not None:
                    await probe.stop()
                probe = Probe(root, expected)
                runs.append(await probe.start(sql[0], pause))
            out[cache + label] = {
                "diagnostics_s": statistics.median(r["diagnostics_s"] for r in runs),
                "ready_s": statistics.median(r["ready_s"] for r in runs),
                "runs": runs,
            }
    assert probe is not None
    out["rss_mb"] = probe.rss_mb()
    # requests on the last (warm, ready) server
    lens, hover, comp = [], [], []
    for _ in range(n_requests):
        f = rnd.choice(sql)
        t = time.perf_counter()
        await probe.lens(f)
        lens.append(time.perf_counter() - t)
        f, line, col = rnd.choice(sites)
        t = time.perf_counter()
        await probe.hover(f, line, col)
        hover.append(time.perf_counter() - t)
        t = time.perf_counter()
        got = await probe.complete_at(f, line, col)
        comp.append(time.perf_counter() - t)
        items = got.items if isinstance(got, types.CompletionList) else got
        if not items:
            raise AssertionError(f"no completion inside ref() at {f}:{line + 1}:{col + 1}")
    out["lens"], out["hover"], out["completion"] = _pcts(lens), _pcts(hover), _pcts(comp)
    titles = await probe.lens(sql[1])
    out["lens_example"] = titles[0].command.title if titles else None
    # typing: one model open, an edit at a time with a pause
    # a model with findings: the server publishes its diagnostics after every edit (a clean file
    # that stays clean gets no message to time)
    with_diags = [f for f in sql if Path(f).resolve().as_uri() in expected]
    f = with_diags[len(with_diags) // 2] if with_diags else sql[len(sql) // 2]
    uri = Path(f).as_uri()
    text = Path(f).read_text(encoding="utf-8")
    probe.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="sql", version=1, text=text)
        )
    )
    await asyncio.sleep(0.5)
    typing = []
    for k in range(n_edits):
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[float] = loop.create_future()
        probe.waiters[uri] = fut
        piece = "x" if k % 2 == 0 else ""
        t = time.perf_counter()
        probe.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=k + 2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text + "-- " + piece * k)],
            )
        )
        try:
            done = await asyncio.wait_for(fut, timeout=10)
        except TimeoutError:
            probe.waiters.pop(uri, None)
            continue  # nothing changed in its findings: the server publishes nothing (not a delay)
        typing.append(done - t)
        await asyncio.sleep(0.2)
    out["typing"] = _pcts(typing) if typing else {}
    await probe.stop()
    return out


def full_state(root: str) -> None:
    """One synthetic production run of every node, ingested as the project's state (bench.planstate)."""
    from datetime import UTC, datetime, timedelta

    from bench.planstate import write_run
    from freshlens.state import default_state_path, open_store
    from freshlens.workspace import Workspace

    ws = Workspace([root], render_cache=False)
    ws.load()
    proj = next(iter(ws.projects.values()))
    assert proj.index is not None
    run = Path(root) / ".freshlens" / "bench-run"
    write_run(
        proj.index, {p: v.text for p, v in ws.cache.items()}, run, datetime.now(UTC) - timedelta(minutes=10)
    )
    with open_store(default_state_path(root)) as store:
        store.ingest(run)
    current = Path(root) / ".freshlens" / "current"
    current.mkdir(parents=True, exist_ok=True)
    shutil.copy2(run / "sources.json", current / "sources.json")


async def measure_many(root: str, n_models: int, repeats: int) -> dict[str, Any]:
    """Start times and memory of one server over every project under ``root``."""
    expected = expected_diagnostics(root)
    sql = synth.sql_files(os.path.join(root, "p00"))
    out: dict[str, Any] = {"files_with_diagnostics": len(expected)}
    empty = os.path.join(root, "empty")
    os.makedirs(empty, exist_ok=True)
    probe = Probe(empty, {})
    await probe.start(os.path.join(empty, "none.sql"), 2.0)
    out["rss_empty_mb"] = probe.rss_mb()
    await probe.stop()
    for cache in ("cold", "warm"):
        runs = []
        for _ in range(repeats):
            if cache == "cold":
                for d in os.listdir(root):
                    shutil.rmtree(os.path.join(root, d, ".freshlens", "cache"), ignore_errors=True)
            probe = Probe(root, expected)
            runs.append(await probe.start(sql[0], 2.0))
            out[f"rss_{cache}_mb"] = probe.rss_mb()
            await probe.stop()
        out[cache] = {
            "diagnostics_s": statistics.median(r["diagnostics_s"] for r in runs),
            "ready_s": statistics.median(r["ready_s"] for r in runs),
            "runs": runs,
        }
    return out


def _machine() -> dict[str, object]:
    import platform

    return {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| models | variant | diagnostics, cold | diagnostics, warm | index ready, cold | index ready, warm "
        "| warm diagnostics from spawn | lens p95 | hover p95 | completion p95 | typing p50 / p95 | RSS |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        t = r.get("typing") or {}
        lines.append(
            f"| {r['models']:,} | {r['variant']} | {r['cold']['diagnostics_s']:.2f} s | "
            f"{r['warm']['diagnostics_s']:.2f} s | {r['cold']['ready_s']:.2f} s | {r['warm']['ready_s']:.2f} s | "
            f"{r['warm_from_spawn']['diagnostics_s']:.2f} s | "
            f"{r['lens']['p95_ms']:.1f} ms | {r['hover']['p95_ms']:.1f} ms | {r['completion']['p95_ms']:.1f} ms | "
            f"{t.get('p50_ms', float('nan')):.0f} / {t.get('p95_ms', float('nan')):.0f} ms | {r['rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.lsp")
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--variant", choices=("plain", "jinja"), default="plain")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "freshlens-bench"))
    ap.add_argument("--results", default="", help="results JSON (default bench/results/<date>-…-lsp.json)")
    ap.add_argument("--projects", type=int, default=0, help="one workspace of this many projects (see above)")
    ap.add_argument(
        "--state",
        action="store_true",
        help="give the project a full state first (bench.planstate's synthetic production run, ingested "
        "into .freshlens/state.db, its sources.json as current freshness): lenses then say Build/Reuse",
    )
    a = ap.parse_args(argv)
    if a.projects:
        n = int(a.sizes.split(",")[0])
        root = os.path.join(a.workdir, f"ws{a.projects}x{n}")
        for k in range(a.projects):
            synth.generate(os.path.join(root, f"p{k:02d}"), n, seed=7 + k)
        many = asyncio.run(measure_many(root, n, a.repeats))
        total = a.projects * n
        many.update({"projects": a.projects, "models_per_project": n, "models": total})
        many["rss_per_1000_models_mb"] = (many["rss_warm_mb"] - many["rss_empty_mb"]) / (total / 1000)
        print(json.dumps(many, indent=2))
        if a.results:
            Path(a.results).write_text(json.dumps(many, indent=2) + "\n", encoding="utf-8")
        return 0
    rows = []
    for n in [int(s) for s in a.sizes.split(",") if s.strip()]:
        jinja = a.variant == "jinja"
        root = os.path.join(a.workdir, f"p{n}{'-jinja' if jinja else ''}")
        summary = synth.generate(root, n, jinja=jinja)
        if a.state:
            full_state(root)
        print(f"== {n} models ({a.variant}): {summary}", file=sys.stderr, flush=True)
        r = asyncio.run(measure(root, a.repeats, a.requests, a.edits, a.seed))
        r.update({"models": n, "variant": a.variant})
        print(f"   {json.dumps(r)}", file=sys.stderr, flush=True)
        rows.append(r)
    m = _machine()
    doc = {"date": _dt.date.today().isoformat(), "machine": m, "results": rows}
    path = a.results or os.path.join(
        REPO, "bench", "results", f"{doc['date']}-{m['cpus']}cpu-{m['machine']}-lsp.json"
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    print(table(rows))
    print(f"results: {os.path.relpath(path, REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
