"""The orders file that the import benchmarks generate, and the checks of the table it fills.

``--rows`` orders × 10 columns (see ``cmd_import.py``), each file with the
same rows for the same ids; :class:`Expected` holds what any import of it must
leave in ``orders``, which :func:`verify_table` checks through any database's
query function.
"""

from __future__ import annotations

import datetime
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness import check

COLUMNS = [
    "id",
    "customer",
    "city",
    "quantity",
    "unit_price",
    "amount",
    "discount",
    "order_date",
    "ship_date",
    "status",
]
NUMBERS = {"id", "quantity", "unit_price", "amount", "discount"}
CITIES = ("São Paulo", "Washington, D.C.", "Zürich", "Kraków", 'The "Quoted" Town')
CITIES += ("Lagos", "Osaka", "Montréal", "Lyon", "Cape Town")
STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")
SCHEMA = """\
[tables.orders]
key = ["id"]
[tables.orders.columns]
id = { type = "integer" }
customer = { type = "text", required = true }
city = { type = "text" }
quantity = { type = "integer" }
unit_price = { type = "decimal" }
amount = { type = "decimal" }
discount = { type = "decimal" }
order_date = { type = "date" }
ship_date = { type = "date" }
status = { type = "text" }
"""
# The tables Entrepôt creates from SCHEMA (SQLite keeps decimals as exact text).
SQLITE_DDL = """CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer TEXT,
    city TEXT, quantity BIGINT, unit_price VARCHAR, amount VARCHAR, discount VARCHAR,
    order_date DATE, ship_date DATE, status TEXT)"""
POSTGRES_DDL = """CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer TEXT,
    city TEXT, quantity BIGINT, unit_price NUMERIC, amount NUMERIC, discount NUMERIC,
    order_date DATE, ship_date DATE, status TEXT)"""


@dataclass
class Expected:
    """What every import must leave in the table."""

    rows: int
    samples: dict[int, list[str]] = field(default_factory=dict)
    cities: Counter[str] = field(default_factory=Counter)
    empty_ship_dates: int = 0


def generate(path: Path, rows: int, first: int = 1) -> Expected:
    """``rows`` orders with ids ``first``…, written to ``path``; what the table must hold."""
    rng = random.Random(12 + first - 1)
    ids = range(first, first + rows)
    wanted = {ids[0], ids[1 % rows], ids[rows // 2 - 1], ids[-1]}
    wanted |= set(random.Random(7).sample(ids, min(rows, 36)))
    expected = Expected(rows)
    start = datetime.date(2023, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write(",".join(COLUMNS) + "\r\n")
        for number in ids:
            quantity, cents = rng.randint(1, 100), rng.randint(50, 99_999)
            ordered = start + datetime.timedelta(days=rng.randint(0, 700))
            shipped = ordered + datetime.timedelta(days=rng.randint(0, 14))
            row = [
                str(number),
                f"cust_{rng.randint(0, 99_999):05}",
                rng.choice(CITIES),
                str(quantity),
                f"{cents // 100}.{cents % 100:02}",
                f"{cents * quantity // 100}.{cents * quantity % 100:02}",
                f"0.{rng.randint(0, 999):03}",
                ordered.isoformat(),
                "" if rng.random() < 0.05 else shipped.isoformat(),
                rng.choice(STATUSES),
            ]
            expected.cities[row[2]] += 1
            expected.empty_ship_dates += row[8] == ""
            if number in wanted:
                expected.samples[number] = row
            handle.write(",".join(csv_cell(cell) for cell in row) + "\r\n")
    return expected


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if re.search(r'[",\r\n]', text) else text


def same(column: str, found: Any, wanted: str) -> bool:
    if found is None or found == "" or (isinstance(found, float) and found != found):
        return wanted == ""
    if column in NUMBERS:
        return Decimal(str(found)) == Decimal(wanted)
    return str(found) == wanted


def verify_table(query: Callable[[str], list[tuple[Any, ...]]], expected: Expected) -> None:
    """Check the ``orders`` table through ``query`` (SQL text → rows)."""
    count = query("SELECT count(*) FROM orders")[0][0]
    check(count == expected.rows, f"{count} rows, expected {expected.rows}")
    cities = Counter(dict(query("SELECT city, count(*) FROM orders GROUP BY city")))
    check(cities == expected.cities, f"rows per city {dict(cities)} != {dict(expected.cities)}")
    empty = query("SELECT count(*) FROM orders WHERE ship_date IS NULL OR ship_date::text = ''")
    check(empty[0][0] == expected.empty_ship_dates, f"{empty[0][0]} empty ship dates")
    ids = ",".join(str(number) for number in expected.samples)
    sample = query(f"SELECT {', '.join(COLUMNS)} FROM orders WHERE id IN ({ids})")
    check(len(sample) == len(expected.samples), f"{len(sample)} of the sample rows found")
    for found in sample:
        wanted = expected.samples[int(found[0])]
        for column, cell, text in zip(COLUMNS, found, wanted, strict=True):
            check(same(column, cell, text), f"id {found[0]}: {column} is {cell!r}, not {text!r}")


def sqlite_query(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(path)) as conn:
            # SQLite has no ::text cast; its dates are text already.
            return conn.execute(sql.replace("::text", "")).fetchall()

    return query
