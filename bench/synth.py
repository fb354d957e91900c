"""Deterministic synthetic dbt projects for benchmarks.

``generate(out_dir, n_models)`` writes a dbt project (valid for real ``dbt parse`` with dbt-duckdb)
of exactly ``n_models`` SQL models:

- ``models/staging/<domain>/`` (30%): one source per domain (``_sources.yml`` with
  ``loaded_at_field`` and ``freshness``), each staging model selects from one source table;
- ``models/intermediate/<domain>/`` (30%): join 1-3 staging models;
- ``models/marts/<domain>/`` (40%): join 1-3 intermediate models or earlier marts, so refs form a
  layered DAG without cycles;
- one properties YAML per 10 models (columns, ``data_tests``, and ``config: freshness`` or
  ``config: state`` on some models);
- ``{{ config(...) }}`` at the top of every 5th SQL file;
- ``dbt_project.yml`` with ``+materialized`` per layer and ``+freshness`` / ``+state`` per marts domain;
- ``profiles.yml`` (DuckDB, relative path) inside the project: run dbt with ``--profiles-dir .``.

With ``jinja=True`` (the Jinja-heavy variant) 30% of the models need parse-time rendering, as on
real projects: staging models read their source through a macro (``from_src``), joins ref their
parents through a macro that builds the name (``ref_via('int', '00042')``), every third of those
sets its materialization through a macro calling ``config()``, and the marts' ``+enabled`` comes from
a var (``"{{ var('enable_marts', true) | as_bool }}"``).

The same ``n_models`` (and ``seed``) always gives byte-identical files. Run as a script:
``python -m bench.synth OUT_DIR N [--jinja]``.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys

PROJECT = "bench_proj"
DOMAIN_SIZE = 50  # models per domain folder
PROPS_EVERY = 10  # models per properties YAML
PERIODS = ("minute", "hour", "day")


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _split(n: int) -> tuple[int, int, int]:
    stg = max(1, n * 3 // 10)
    inter = max(1, n * 3 // 10) if n >= 3 else 0
    marts = n - stg - inter
    return stg, inter, marts


def _chunks(names: list[str], size: int) -> list[list[str]]:
    return [names[i : i + size] for i in range(0, len(names), size)]


def _columns(rng: random.Random, k: int) -> list[str]:
    pool = ["amount", "status", "category", "region", "quantity", "price", "channel", "score", "kind", "note"]
    return rng.sample(pool, k)


def _sql_config(rng: random.Random, layer: str, domain_kind: str) -> str:
    if layer == "marts" and domain_kind == "state":
        lag = rng.choice(["30m", "1h", "2h", "6h"])
        return "{{ config(materialized='table', state={'lag_tolerance': '" + lag + "'}) }}\n\n"
    count = rng.choice([1, 2, 4, 6, 12])
    period = rng.choice(PERIODS[1:])
    mat = {"staging": "view", "intermediate": "table", "marts": "incremental"}[layer]
    extra = ", unique_key='id'" if mat == "incremental" else ""
    return (
        "{{\n    config(\n"
        f"        materialized='{mat}'{extra},\n"
        f"        freshness={{'build_after': {{'count': {count}, 'period': '{period}', 'updates_on': 'any'}}}}\n"
        "    )\n}}\n\n"
    )


def _staging_sql(rng: random.Random, src: str, table: str, cols: list[str]) -> str:
    sel = ",\n".join(f"        {c}" for c in cols)
    return (
        "with source as (\n\n"
        f"    select * from {{{{ source('{src}', '{table}') }}}}\n\n"
        "),\n\nrenamed as (\n\n"
        "    select\n"
        "        id,\n"
        f"{sel},\n"
        "        _loaded_at as loaded_at\n"
        "    from source\n"
        "    where id is not null\n\n"
        ")\n\nselect * from renamed\n"
    )


def _join_sql(rng: random.Random, parents: list[str], cols: list[str]) -> str:
    ctes = ",\n\n".join(f"{p} as (\n    select * from {{{{ ref('{p}') }}}}\n)" for p in parents)
    first = parents[0]
    joins = "".join(f"left join {p}\n    on {first}.id = {p}.id\n" for p in parents[1:])
    sel = ",\n".join(f"    {first}.{c}" for c in cols[:2])
    return (
        f"with {ctes}\n\n"
        "select\n"
        f"    {first}.id,\n"
        f"{sel},\n"
        f"    count(*) over (partition by {first}.id) as n_rows,\n"
        f"    {first}.loaded_at\n"
        f"from {first}\n"
        f"{joins}"
    )


def _props_yaml(rng: random.Random, models: list[str], layer: str, domain_kind: str) -> str:
    lines = ["version: 2", "", "models:"]
    for m in models:
        lines.append(f"  - name: {m}")
        lines.append(f"    description: Synthetic {layer} model {m}.")
        r = rng.random()
        if layer == "marts" and domain_kind == "state" and r < 0.3:
            lines += [
                "    config:",
                "      state:",
                f"        lag_tolerance: {rng.choice(['15m', '1h', '4h'])}",
                f"        require_fresh_data_from: {rng.choice(['any', 'all'])}",
            ]
        elif domain_kind != "state" and r < 0.3:
            lines += [
                "    config:",
                "      freshness:",
                "        build_after:",
                f"          count: {rng.choice([1, 3, 6, 24])}",
                f"          period: {rng.choice(PERIODS)}",
                f"          updates_on: {rng.choice(['any', 'all'])}",
            ]
        lines.append("    columns:")
        lines += [
            "      - name: id",
            "        description: Primary key.",
            "        data_tests:",
            "          - unique",
            "          - not_null",
        ]
        for c in _columns(rng, 3):
            lines.append(f"      - name: {c}")
            lines.append(f"        description: The {c}.")
    return "\n".join(lines) + "\n"


def _sources_yaml(rng: random.Random, src: str, tables: list[str]) -> str:
    lines = [
        "version: 2",
        "",
        "sources:",
        f"  - name: {src}",
        "    schema: raw",
        "    config:",
        "      loaded_at_field: _loaded_at",
        "      freshness:",
        f"        warn_after: {{count: {rng.choice([6, 12])}, period: hour}}",
        "        error_after: {count: 24, period: hour}",
        "    tables:",
    ]
    for i, t in enumerate(tables):
        lines.append(f"      - name: {t}")
        if i % 7 == 3:
            lines += [
                "        config:",
                "          freshness:",
                "            warn_after: {count: 2, period: hour}",
                "            filter: \"status <> 'deleted'\"",
            ]
    return "\n".join(lines) + "\n"


_MACROS = """{% macro from_src(src, table) %}{{ source(src, table) }}{% endmacro %}

{% macro ref_via(prefix, n) %}{{ ref(prefix ~ '_' ~ n) }}{% endmacro %}

{% macro as_table() %}{{ config(materialized='table') }}{% endmacro %}
"""

_REF = re.compile(r"\{\{ ref\('(stg|int|mart)_(\d+)'\) \}\}")
_SOURCE = re.compile(r"\{\{ source\('(\w+)', '(\w+)'\) \}\}")


def _jinja_body(body: str, counter: int) -> str:
    """Model ``counter``'s SQL as the Jinja-heavy variant writes it (30% of models need a render)."""
    if counter % 10 >= 3:
        return body
    body = _SOURCE.sub(lambda m: "{{ from_src('" + m.group(1) + "', '" + m.group(2) + "') }}", body)
    body = _REF.sub(lambda m: "{{ ref_via('" + m.group(1) + "', '" + m.group(2) + "') }}", body)
    if counter % 10 == 0:
        body = "{{ as_table() }}\n" + body
    return body


def generate(out_dir: str, n_models: int, seed: int = 7, jinja: bool = False) -> dict[str, object]:
    """Write the project into ``out_dir`` (emptied first). Returns a summary (relative paths only)."""
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    rng = random.Random(seed * 1_000_003 + n_models)
    n_stg, n_int, n_marts = _split(n_models)
    stg = [f"stg_{i:05d}" for i in range(n_stg)]
    inter = [f"int_{i:05d}" for i in range(n_int)]
    marts = [f"mart_{i:05d}" for i in range(n_marts)]
    n_props = 0
    n_config = 0
    mart_domains: list[tuple[str, str]] = []  # (folder, kind)

    def domain_kind(layer: str, d: int) -> str:
        if layer != "marts":
            return "freshness"
        return ("freshness", "state", "plain")[d % 3]

    counter = 0
    for layer, names in (("staging", stg), ("intermediate", inter), ("marts", marts)):
        for d, dom in enumerate(_chunks(names, DOMAIN_SIZE)):
            folder = f"models/{layer}/d{d:03d}"
            kind = domain_kind(layer, d)
            if layer == "marts":
                mart_domains.append((f"d{d:03d}", kind))
            src = f"src_d{d:03d}"
            if layer == "staging":
                _write(
                    os.path.join(out_dir, folder, "_sources.yml"),
                    _sources_yaml(rng, src, [f"t_{m}" for m in dom]),
                )
            for j, chunk in enumerate(_chunks(dom, PROPS_EVERY)):
                _write(
                    os.path.join(out_dir, folder, f"_{layer}_d{d:03d}_{j:02d}.yml"),
                    _props_yaml(rng, chunk, layer, kind),
                )
                n_props += 1
            for m in dom:
                cols = _columns(rng, 3)
                if layer == "staging":
                    body = _staging_sql(rng, src, f"t_{m}", cols)
                elif layer == "intermediate":
                    parents = sorted(set(rng.sample(stg, min(len(stg), rng.randint(1, 3)))))
                    body = _join_sql(rng, parents, cols)
                else:
                    idx = int(m.split("_")[1])
                    pool = inter + marts[:idx] if inter else stg + marts[:idx]
                    # prefer intermediate models, sometimes an earlier mart (deeper DAG)
                    k = rng.randint(1, 3)
                    parents = sorted(set(rng.choice(pool) for _ in range(k)))
                    body = _join_sql(rng, parents, cols)
                head = ""
                if counter % 5 == 0:
                    head = _sql_config(rng, layer, kind)
                    n_config += 1
                if jinja:
                    body = _jinja_body(body, counter)
                counter += 1
                _write(os.path.join(out_dir, folder, f"{m}.sql"), head + body)

    proj = [
        f"name: {PROJECT}",
        'version: "1.0.0"',
        "config-version: 2",
        f"profile: {PROJECT}",
        "",
        'model-paths: ["models"]',
        'clean-targets: ["target"]',
        "",
        "models:",
        f"  {PROJECT}:",
        "    staging:",
        "      +materialized: view",
        "    intermediate:",
        "      +materialized: ephemeral",
        "    marts:",
        "      +materialized: table",
    ]
    if jinja:
        proj.append("      +enabled: \"{{ var('enable_marts', true) | as_bool }}\"")
        _write(os.path.join(out_dir, "macros", "bench_macros.sql"), _MACROS)
    for dom, kind in mart_domains:
        if kind == "freshness":
            proj += [
                f"      {dom}:",
                "        +freshness:",
                "          build_after:",
                f"            count: {rng.choice([1, 2, 4, 8])}",
                "            period: hour",
            ]
        elif kind == "state":
            proj += [
                f"      {dom}:",
                "        +state:",
                f"          lag_tolerance: {rng.choice(['1h', '2h', '12h'])}",
                "          require_fresh_data_from: any",
            ]
    _write(os.path.join(out_dir, "dbt_project.yml"), "\n".join(proj) + "\n")
    _write(
        os.path.join(out_dir, "profiles.yml"),
        f"{PROJECT}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: bench.duckdb\n      schema: main\n      threads: 2\n",
    )
    return {
        "models": n_models,
        "staging": n_stg,
        "intermediate": n_int,
        "marts": n_marts,
        "properties_yaml": n_props,
        "sql_with_config": n_config,
        "sources": len(_chunks(stg, DOMAIN_SIZE)),
        "jinja": jinja,
    }


def sql_files(out_dir: str) -> list[str]:
    """The model SQL files of a generated project, sorted (absolute paths, for local use only)."""
    out = []
    for d, _, files in os.walk(os.path.join(out_dir, "models")):
        out += [os.path.join(d, f) for f in files if f.endswith(".sql")]
    return sorted(out)


def props_files(out_dir: str) -> list[str]:
    out = []
    for d, _, files in os.walk(os.path.join(out_dir, "models")):
        out += [os.path.join(d, f) for f in files if f.endswith(".yml") and f != "_sources.yml"]
    return sorted(out)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--jinja"]
    if len(args) != 2:
        print("usage: python -m bench.synth OUT_DIR N_MODELS [--jinja]", file=sys.stderr)
        raise SystemExit(2)
    print(generate(args[0], int(args[1]), jinja="--jinja" in sys.argv[1:]))
