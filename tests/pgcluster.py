"""A throwaway PostgreSQL server for the tests: one cluster per test session, a fresh database per test.

Per ``../shared/recipes/postgresql.md``: ``initdb`` in a temporary folder (as the ``postgres`` system
user when the tests run as root, since initdb refuses root), a free port, listening on 127.0.0.1 only
(and a Unix socket inside the temporary folder), stopped and removed when the session ends.

Fixtures (registered in ``tests/conftest.py``):

- ``pg_cluster`` (session): the running :class:`PgCluster` (host, port, user, ``dsn(dbname)``).
- ``pg_dsn`` (function): a factory; each call creates a new empty database and returns its DSN,
  ``postgresql://postgres@127.0.0.1:PORT/NAME``. Databases are created with ``createdb`` (no Python
  driver needed) and live until the cluster is removed.

When the server binaries are missing the fixtures skip with the reason, except under ``CI=true``,
where a missing PostgreSQL is a failure (``scripts/setup.sh`` installs Debian's ``postgresql``).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Debian installs each major version under its own folder; 15 is the version the project targets.
PREFERRED_MAJOR = "15"
# Start attempts: the free port is picked before the server binds it, so another process may take it.
START_ATTEMPTS = 3
SUPERUSER = "postgres"


def find_bindir() -> Path | None:
    """The folder holding initdb/pg_ctl/createdb: $FRESHLENS_PG_BINDIR, Debian's 15, else the newest."""
    env = os.environ.get("FRESHLENS_PG_BINDIR")
    if env:
        return Path(env) if (Path(env) / "initdb").is_file() else None
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not found:
        on_path = shutil.which("initdb")
        return Path(on_path).parent if on_path else None

    def major(bindir: Path) -> tuple[int, int]:
        name = bindir.parent.name
        return (1 if name == PREFERRED_MAJOR else 0, int(name) if name.isdigit() else 0)

    return max(found, key=major)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    root: Path
    bindir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = SUPERUSER

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def createdb(self, name: str) -> str:
        subprocess.run(
            [str(self.bindir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return self.dsn(name)


def _as_server_user(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres system user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *cmd]
    return cmd


def _run(cmd: list[str], what: str, timeout: float = 120) -> None:
    proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")


def start_cluster(bindir: Path) -> PgCluster:
    root = Path(tempfile.mkdtemp(prefix="freshlens-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, SUPERUSER, SUPERUSER)
        # --no-sync / fsync=off: a test cluster never has to survive an OS crash, only client kills.
        _run(
            [str(bindir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", SUPERUSER, "--no-sync"],
            "initdb",
        )
        last_error = ""
        for _ in range(START_ATTEMPTS):
            port = free_port()
            opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
            try:
                ctl = [str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log")]
                _run([*ctl, "-w", "-t", "60", "-o", opts, "start"], "pg_ctl start")
                return PgCluster(root=root, bindir=bindir, port=port)
            except RuntimeError as e:
                log = root / "log"
                last_error = f"{e}\n{log.read_text(errors='replace')[-2000:] if log.exists() else ''}"
        raise RuntimeError(last_error)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def stop_cluster(cluster: PgCluster) -> None:
    with contextlib.suppress(Exception):
        _run(
            [str(cluster.bindir / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "-w", "stop"], "stop"
        )
    shutil.rmtree(cluster.root, ignore_errors=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); scripts/setup.sh installs them"
        if _in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    cluster = start_cluster(bindir)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


_db_counter = itertools.count(1)


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Each call: a new empty database on the session's cluster, returned as its DSN."""
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())[:40].strip("_") or "db"

    def make() -> str:
        return pg_cluster.createdb(f"t{next(_db_counter)}_{stem}")

    return make
