"""Load the raw data of the example project examples/jaffle_fresh into its DuckDB file.

Run with the dbt venv's Python (it has the pinned duckdb):

    .venv-dbt/bin/python scripts/demo-data.py            # (re)create schema raw from scratch
    .venv-dbt/bin/python scripts/demo-data.py --add-orders 5   # new rows in raw.orders only
    .venv-dbt/bin/python scripts/demo-data.py --postgres postgresql://user@host:port/db   # the same on PostgreSQL

The fresh load creates ``raw.customers``, ``raw.orders`` and ``raw.payments`` (each with a
``_loaded_at`` timestamp) and the view ``raw.events_v`` (a source that is a view). Loaded rows are
stamped a few hours in the past, so that ``--add-orders`` later makes exactly one source
(``jaffle.orders``) visibly fresher than the others. The data is deterministic apart from the
timestamps, which are relative to now (UTC).
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = ROOT / "examples" / "jaffle_fresh" / "jaffle_fresh.duckdb"

FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis"]
LAST_INITIALS = "ABCDEFGHJKLMNPRSTW"
STATUSES = ["placed", "shipped", "completed", "completed", "completed", "returned"]
METHODS = ["credit_card", "bank_transfer", "gift_card", "coupon"]
N_CUSTOMERS = 50
N_ORDERS = 200
INITIAL_AGE = timedelta(hours=3)


def _now() -> datetime:
    # Naive UTC: dbt-duckdb compares `_loaded_at` (TIMESTAMP, no zone) with a UTC "now".
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class _Postgres:
    """A PostgreSQL connection (psycopg2, which dbt-postgres brings) with DuckDB's ``?`` placeholders,
    so that the same loading code serves both warehouses."""

    def __init__(self, dsn: str) -> None:
        import psycopg2

        self.con = psycopg2.connect(dsn)
        self.cur = self.con.cursor()

    def execute(self, sql: str, params: Any = ()) -> _Postgres:
        self.cur.execute(sql.replace("?", "%s"), params or None)
        return self

    def executemany(self, sql: str, rows: Any) -> None:
        self.cur.executemany(sql.replace("?", "%s"), rows)

    def fetchone(self) -> Any:
        return self.cur.fetchone()

    def __enter__(self) -> _Postgres:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.con.commit()
        self.con.close()


def fresh_load(con: Any) -> None:
    rng = random.Random(42)
    loaded_at = _now() - INITIAL_AGE
    con.execute("drop schema if exists raw cascade")
    con.execute("create schema raw")
    con.execute(
        "create table raw.customers (id integer primary key, first_name varchar, last_name varchar,"
        " _loaded_at timestamp not null)"
    )
    con.execute(
        "create table raw.orders (id integer primary key, customer_id integer, order_date date,"
        " status varchar, _loaded_at timestamp not null)"
    )
    con.execute(
        "create table raw.payments (id integer primary key, order_id integer, payment_method varchar,"
        " amount_cents integer, _loaded_at timestamp not null)"
    )
    con.executemany(
        "insert into raw.customers values (?, ?, ?, ?)",
        [
            (i, rng.choice(FIRST_NAMES), rng.choice(LAST_INITIALS) + ".", loaded_at)
            for i in range(1, N_CUSTOMERS + 1)
        ],
    )
    start = loaded_at.date() - timedelta(days=90)
    orders = [
        (
            i,
            rng.randint(1, N_CUSTOMERS),
            start + timedelta(days=rng.randint(0, 89)),
            rng.choice(STATUSES),
            loaded_at,
        )
        for i in range(1, N_ORDERS + 1)
    ]
    con.executemany("insert into raw.orders values (?, ?, ?, ?, ?)", orders)
    payments = [
        (i, order[0], rng.choice(METHODS), rng.randint(100, 10_000), loaded_at)
        for i, order in enumerate(orders, start=1)
    ]
    con.executemany("insert into raw.payments values (?, ?, ?, ?, ?)", payments)
    # A source that is a view: the warehouse's metadata cannot see new data behind it.
    con.execute(
        "create view raw.events_v as"
        " select o.id as order_id, o.customer_id, o.status as event_type, o._loaded_at as occurred_at"
        " from raw.orders o"
    )


def add_orders(con: Any, n: int) -> None:
    row = con.execute("select coalesce(max(id), 0), count(*) from raw.orders").fetchone()
    assert row is not None
    next_id = int(row[0]) + 1
    n_customers = con.execute("select count(*) from raw.customers").fetchone()
    assert n_customers is not None
    rng = random.Random(next_id)
    now = _now()
    con.executemany(
        "insert into raw.orders values (?, ?, ?, ?, ?)",
        [(next_id + k, rng.randint(1, int(n_customers[0])), now.date(), "placed", now) for k in range(n)],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="DuckDB file (default: %(default)s)")
    parser.add_argument(
        "--add-orders",
        type=int,
        metavar="N",
        help="insert N new orders stamped now into raw.orders (nothing else changes)",
    )
    parser.add_argument("--postgres", metavar="DSN", help="load into this PostgreSQL database instead")
    args = parser.parse_args(argv)
    if args.postgres:
        where = "PostgreSQL"
        con: Any = _Postgres(args.postgres)
    else:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        where = str(args.db)
        con = duckdb.connect(str(args.db))
    with con:
        if args.add_orders is not None:
            if args.add_orders < 1:
                parser.error("--add-orders needs a positive N")
            add_orders(con, args.add_orders)
            print(f"added {args.add_orders} orders to raw.orders in {where}")
        else:
            fresh_load(con)
            print(f"loaded raw.customers, raw.orders, raw.payments and raw.events_v into {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
