"""The workloads of ``bench_fleet_central.py``: what each instance is configured with,
what is put in place before a run, when the run is done, and how its result is checked."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import check
from import_orders import SCHEMA, Expected, generate, verify_table

# isort: split
from tests.servers import postgres
from tests.servers import s3 as s3_servers

from entrepot.ship.claimed import local_name

INSTANCE = """\
[service]
state = "{home}/state"
ledger = "postgresql://{pg.user}@{pg.host}:{pg.port}/{ledger}"
instance = "{name}"
"""
FETCH = """
[spools.inbox]
path = "{home}/inbox"

[targets.bucket]
url = "{url}"
password_env = "S3_SECRET"
options = {{ access_key = "{access_key}" }}

[fetches.edges]
target = "bucket"
spool = "inbox"
every = "2s"
claims = true
"""
IMPORT = """
[datacenter]
root = "{root}"
database = "postgresql://{pg.user}@{pg.host}:{pg.port}/{data}"
watch = "{watch}"
settle = "0.2s"
shared = true
"""


@dataclass
class Servers:
    pg: postgres.PostgresServer
    s3: s3_servers.S3Server
    base: Path

    @property
    def pids(self) -> dict[str, int]:
        postmaster = int((self.pg.data / "postmaster.pid").read_text().split()[0])
        assert self.s3._proc is not None
        return {"postgres": postmaster, "weed": self.s3._proc.pid}

    def query(self, database: str, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        url = self.pg.url(database).replace("+psycopg", "")
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()


@dataclass
class Work:
    """One run's workload: its config section, how to start it, when it is done, its checks."""

    units: int  # objects or rows
    bytes: int
    section: str  # formatted with home, pg and ``fields``
    fields: dict[str, str]
    progress: Callable[[], int]  # units done so far
    complete: Callable[[], bool]
    verify: Callable[[], None]
    databases: list[str]
    marker: str  # a file of the working thread's code, to find its stacks in a profile
    begin: Callable[[], None] = lambda: None  # at the start of the timed window


def fetch_work(
    servers: Servers, run: Path, homes: list[Path], ledger: str, count: int, size: int
) -> Work:
    prefix = run.name
    names = [f"edge-{n % 3}/orders/2025/12/05/f{n:06d}.bin" for n in range(count)]
    client = servers.s3.client()
    block = os.urandom(size)

    def put(name: str) -> None:
        body = block[: size - len(name)] + name.encode()
        client.put_object(Bucket=s3_servers.BUCKET, Key=f"{prefix}/{name}", Body=body)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, names))
    url = (f"s3://{s3_servers.BUCKET}/{prefix}?endpoint_url={servers.s3.endpoint_url}"
           f"&region={s3_servers.REGION}")  # fmt: skip
    wanted = {local_name(name): name for name in names}

    def fetched() -> int:
        return sum(len(os.listdir(home / "inbox" / "new")) for home in homes)

    def left() -> int:
        pages = client.get_paginator("list_objects_v2")
        listing = pages.paginate(Bucket=s3_servers.BUCKET, Prefix=prefix + "/")
        return sum(page.get("KeyCount", 0) for page in listing)

    def complete() -> bool:
        return fetched() >= count and left() == 0

    def verify() -> None:
        seen: list[str] = []
        for home in homes:
            for entry in os.scandir(home / "inbox" / "new"):
                seen.append(entry.name)
                original = wanted.get(entry.name, "")
                check(original, f"unexpected file {entry.name}")
                check(entry.stat().st_size == size, f"{entry.name}: {entry.stat().st_size} B")
                with open(entry.path, "rb") as handle:
                    handle.seek(size - len(original))
                    check(handle.read() == original.encode(), f"{entry.name}: other content")
        check(len(seen) == len(set(seen)), f"{len(seen) - len(set(seen))} objects fetched twice")
        check(set(seen) == set(wanted), f"{len(set(wanted) - set(seen))} objects not fetched")
        check(left() == 0, "objects left in the bucket")
        [(claims,)] = servers.query(ledger, "SELECT count(*) FROM entrepot_claims WHERE kind = "
                                    "'fetch-object' AND done_at IS NOT NULL")  # fmt: skip
        check(claims == count, f"{claims} claims done for {count} objects")
        [(events, distinct)] = servers.query(
            ledger, "SELECT count(*), count(DISTINCT name) FROM entrepot_provenance "
            "WHERE kind = 'received'")  # fmt: skip
        check(events == distinct == count, f"{events} received events for {distinct} files")

    fields = {"url": url, "access_key": s3_servers.ACCESS_KEY}
    return Work(count, count * size, FETCH, fields, fetched, complete, verify, [ledger],
                "fetcher.py")  # fmt: skip


@dataclass
class CsvFiles:
    """The import's files, made once: ``orders.NNNN.csv`` with ids following each other."""

    folder: Path
    expected: Expected

    @classmethod
    def make(cls, base: Path, files: int, rows: int) -> CsvFiles:
        folder = base / "csv"
        folder.mkdir()
        total = Expected(files * rows)
        for number in range(files):
            part = generate(folder / f"orders.{number:04d}.csv", rows, 1 + number * rows)
            total.samples.update(part.samples)
            total.cities.update(part.cities)
            total.empty_ship_dates += part.empty_ship_dates
        # Old enough to be taken at once: the watched folder's settle time has passed.
        for path in folder.iterdir():
            os.utime(path, (time.time() - 60, time.time() - 60))
        return cls(folder, total)


def import_work(servers: Servers, run: Path, homes: list[Path], ledger: str, csv: CsvFiles) -> Work:
    from entrepot.datacenter import DataCenter

    data = servers.pg.create_database()
    root, watch = run / "dc", run / "uploads"
    DataCenter(root, create=True)
    (root / "schema.toml").write_text(SCHEMA)
    watch.mkdir()
    sources = sorted(csv.folder.iterdir())

    def begin() -> None:
        for path in sources:
            os.link(path, watch / path.name)

    def imported() -> list[str]:
        return [n for n in os.listdir(root / "finished") if not n.endswith(".finished.csv")]

    def complete() -> bool:
        for folder in (root / "unfinished", watch / "rejected"):
            check(not folder.exists() or not os.listdir(folder), f"a file failed: {folder}")
        waiting = [entry for entry in os.scandir(watch) if entry.is_file()]
        return len(imported()) == len(sources) and not waiting

    def rows_done() -> int:
        return len(imported()) * csv.expected.rows // len(sources)

    def verify() -> None:
        verify_table(lambda sql: servers.query(data, sql), csv.expected)
        [(imports, ok, failed)] = servers.query(
            data, "SELECT count(*), sum(rows_ok), sum(rows_failed) FROM dc_imports"
        )
        check((imports, ok, failed) == (len(sources), csv.expected.rows, 0),
              f"{imports} imports, {ok} rows imported, {failed} failed")  # fmt: skip
        [(jobs, runs)] = servers.query(
            ledger, "SELECT count(DISTINCT j.id), count(*) FROM entrepot_jobs j JOIN "
            "entrepot_job_runs r ON r.job_id = j.id WHERE j.kind = 'import'")  # fmt: skip
        check(jobs == runs == len(sources), f"{jobs} import jobs with {runs} runs")

    fields = {"root": str(root), "watch": str(watch), "data": data}
    size = sum(path.stat().st_size for path in sources)
    work = Work(csv.expected.rows, size, IMPORT, fields, rows_done, complete, verify,
                [ledger, data], "watchfolder.py")  # fmt: skip
    work.begin = begin
    return work
