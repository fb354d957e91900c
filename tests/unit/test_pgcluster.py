"""The test PostgreSQL cluster itself: loopback only, a fresh database per call (tests/pgcluster.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from pgcluster import PgCluster


def psql(cluster: PgCluster, dsn: str, sql: str) -> str:
    out = subprocess.run(
        [str(cluster.bindir / "psql"), dsn, "-XAtc", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip()


def test_fresh_database_per_call_on_loopback(pg_cluster: PgCluster, pg_dsn: Callable[[], str]) -> None:
    a, b = pg_dsn(), pg_dsn()
    assert a != b and a.startswith(f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/")
    psql(pg_cluster, a, "create table t(x int); insert into t values (1)")
    assert psql(pg_cluster, a, "select count(*) from t") == "1"
    assert psql(pg_cluster, b, "select count(*) from pg_tables where tablename = 't'") == "0"
    assert psql(pg_cluster, a, "show listen_addresses") == "127.0.0.1"
