"""The dashboard: every page's server time with a week of history in the ledger.

    .venv/bin/python bench/bench_dashboard.py [--jobs 100000] [--events 1000000]
        [--requests 9] [--no-postgres] [--json FILE]

For SQLite and for PostgreSQL (the test suite's server, started here), a
ledger is filled (``bench/dashboard_fill.py``, untimed) with ``--jobs``
jobs and their runs and ``--events`` provenance events spread over the last
seven days.  Then the real service starts on it — ``Daemon`` with its
dashboard on 127.0.0.1, as ``entrepot serve`` runs it — and every page of
the dashboard that exists in this build (an absent one answers 404 and is
listed as such) is requested ``--requests`` times with the operator's
Bearer token, after one untimed request, one request at a time over a
kept-alive connection on loopback.  The figure is the median time from
sending the request to the last byte of the answer (goal: ≤ 200 ms).

A breakdown follows: the overview's chart data read from the hourly counts
(what the page does) against the same per-hour aggregate computed from the
events themselves through a covering index on (kind, time, size) — the
alternative the hourly table was chosen over.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from dashboard_fill import fill
from entrepot.db import make_engine
from entrepot.jobs.depth import hour_of
from entrepot.service.daemon import Daemon
from entrepot.service.loading import load_config
from entrepot.service.status import route_identity
from entrepot.web import dashboard_for
from harness import WORK, check, options, scratch

ROUTES = ("route-0", "route-1", "route-2", "route-3")
GOAL_MS = 200.0
CONFIG = """\
[service]
state = "state"
{ledger}
listen = "127.0.0.1:0"
token_file = "operator.token"
viewer_token_file = "viewer.token"

[spools.outbox]
path = "outbox"

[targets.partner]
url = "{partner}"

{routes}
[archives.events]
folder = "archives/events"
spool = "outbox"

[datacenter]
root = "dc"
schemas = "dc/schema.toml"
"""
SCHEMA = """\
[tables.customers]
key = ["customer_id"]
[tables.customers.columns]
customer_id = { type = "text", required = true }
"""


def write_config(base: Path, ledger_url: str | None) -> Path:
    (base / "partner").mkdir(parents=True)
    (base / "dc").mkdir()
    (base / "dc" / "schema.toml").write_text(SCHEMA)
    for role in ("operator", "viewer"):
        token = base / f"{role}.token"
        token.write_text(f"bench-{role}-token-0123456789\n")
        token.chmod(0o600)
    routes = "".join(
        f'[routes.{name}]\nspool = "outbox"\ntarget = "partner"\nevery = "24h"\n\n'
        for name in ROUTES
    )
    path = base / "entrepot.toml"
    ledger = f'ledger = "{ledger_url}"' if ledger_url else ""
    path.write_text(CONFIG.format(ledger=ledger, partner=(base / "partner").as_uri(),
                                  routes=routes))  # fmt: skip
    return path


@contextmanager
def service(config_path: Path) -> Iterator[tuple[Daemon, str]]:
    """The service of ``config_path`` running in a thread, and its dashboard's URL."""
    config = load_config(config_path)
    daemon = Daemon(config, hints=False)
    daemon.companions.dashboard = dashboard_for(daemon)
    thread = threading.Thread(target=daemon.run, name="service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while daemon.companions.address is None:
        check(thread.is_alive() and time.monotonic() < deadline, "the service did not start")
        time.sleep(0.05)
    try:
        yield daemon, str(daemon.companions.address)
    finally:
        daemon.request_stop()
        thread.join(60)


def pages(daemon: Daemon) -> list[tuple[str, str]]:
    """(what, path) of every page to time; the ledger gives a dead job's id."""
    ledger = daemon.ledger
    assert ledger is not None
    (dead,) = ledger.rows("SELECT id FROM entrepot_jobs WHERE state = 'dead' LIMIT 1", {})
    busy = f"{(123_457 * 2654435761) % 2**32:08x}-123457.csv"
    return [
        ("overview", "/"),
        ("overview, runs page 200", "/?page=200"),
        ("overview JSON", "/api/overview"),
        ("jobs", "/jobs"),
        ("jobs page 20", "/jobs?page=20"),
        ("a job", f"/jobs/{dead[0]}"),
        ("trace one file", f"/trace?name={busy}"),
        ("trace a pattern", "/trace?name=*-12345*.csv"),
        ("trace undelivered", "/trace/undelivered"),
        ("trace a route's last day", f"/trace?route={ROUTES[0]}&since=1d"),
        ("routes", "/routes"),
        ("a route", f"/routes/{ROUTES[0]}"),
        ("a target", "/routes/targets/partner"),
        ("data center", "/datacenter"),
        ("data center log", "/datacenter/log"),
        ("data center tables", "/datacenter/tables"),
        ("archives", "/archives"),
        ("an archive", "/archives/events"),
        ("config", "/config"),
    ]


def time_pages(daemon: Daemon, url: str, requests: int) -> list[dict[str, Any]]:
    token = Path(daemon.config.service.token_file or "").read_text().strip()
    rows = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for what, path in pages(daemon):
            first = client.get(path)  # untimed: the statement caches, the templates
            if first.status_code != 200:
                # Not in this build (404), or a query this build reads otherwise: said, not timed.
                absent = first.status_code == 404 and "no job" not in first.text
                status = "absent" if absent else f"HTTP {first.status_code}"
                rows.append({"page": what, "path": path, "status": status})
                continue
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                reply = client.get(path)
                times.append(time.perf_counter() - started)
                check(reply.status_code == 200, f"{path}: {reply.status_code}")
            median = statistics.median(times) * 1000
            rows.append({"page": what, "path": path, "median_ms": round(median, 1),
                         "max_ms": round(max(times) * 1000, 1), "bytes": len(reply.content),
                         "ok": median <= GOAL_MS})  # fmt: skip
    return rows


def chart_breakdown(url: str, requests: int) -> dict[str, Any]:
    """The week's per-hour deliveries: from the hourly counts vs from the events' index."""
    engine = make_engine(url, purpose="ledger")
    last = hour_of(time.time())
    first = last - 167
    hourly = (
        "SELECT hour, files, bytes FROM entrepot_provenance_hourly "
        "WHERE kind = 'delivered' AND hour BETWEEN :first AND :last"
    )
    bucket = (
        "FLOOR(at / 3600)" if engine.dialect.name == "postgresql" else "CAST(at / 3600 AS INTEGER)"
    )
    scan = (
        f"SELECT {bucket}, count(*), sum(size) FROM entrepot_provenance "
        f"WHERE kind = 'delivered' AND at >= :since GROUP BY {bucket}"
    )
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS bench_kind_at ON entrepot_provenance (kind, at, size)"
        )
        conn.exec_driver_sql("ANALYZE")
    result = {}
    for name, sql, params in (
        ("hourly_table_ms", hourly, {"first": first, "last": last}),
        ("events_index_ms", scan, {"since": first * 3600.0}),
    ):
        times = []
        for _ in range(requests + 1):
            with engine.connect() as conn:
                started = time.perf_counter()
                found = conn.execute(sa.text(sql), params).all()
                times.append(time.perf_counter() - started)
        check(len(found) >= 160, f"{name}: {len(found)} hours")
        result[name] = round(statistics.median(times[1:]) * 1000, 1)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX bench_kind_at")
    engine.dispose()
    return result


def run(backend: str, url: str | None, base: Path, args: Any) -> dict[str, Any]:
    ledger_url = url or f"sqlite:///{base / 'state' / 'ledger.sqlite3'}"
    config_path = base / "entrepot.toml"
    seconds = 0.0
    if not (args.reuse and config_path.exists()):
        write_config(base, url if backend == "postgresql" else None)
        (base / "state").mkdir(mode=0o700, exist_ok=True)
        config = load_config(config_path)
        identities = [route_identity(config, "ship", name) or name for name in ROUTES]
        place = str((base / "outbox").resolve())
        seconds = fill(ledger_url, jobs=args.jobs, events=args.events, identities=identities,
                       place=place)  # fmt: skip
    load = os.getloadavg()[0]
    with service(config_path) as (daemon, address):
        daemon.wait_idle(60)
        rows = time_pages(daemon, address, args.requests)
    report = {
        "backend": backend,
        "jobs": args.jobs,
        "events": args.events,
        "fill_s": round(seconds, 1),
        "load_before": round(load, 1),
        "load_after": round(os.getloadavg()[0], 1),
        "pages": rows,
        "charts_week": chart_breakdown(ledger_url, args.requests),
    }
    print(json.dumps(report, indent=1), flush=True)
    return report


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=9)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the SQLite ledger of the last run again"
    )
    args = parser.parse_args()
    base = WORK / "dashboard" if args.reuse else scratch("dashboard")
    reports = []
    with ExitStack() as stack:
        backends: dict[str, str | None] = {"sqlite": None}
        if not args.no_postgres:
            from tests.servers import postgres

            server = postgres._start()
            stack.callback(server.stop)
            # The configuration holds no password: the driver reads it from the environment.
            os.environ["PGPASSWORD"] = server.password
            database = server.create_database()
            backends["postgresql"] = (
                f"postgresql://{server.user}@{server.host}:{server.port}/{database}"
            )
        for backend, url in backends.items():
            reports.append(run(backend, url, base / backend, args))
    print(f"{'page':28} " + " ".join(f"{r['backend']:>12}" for r in reports) + "   (median ms)")
    for index, row in enumerate(reports[0]["pages"]):
        cells = []
        for report in reports:
            page = report["pages"][index]
            cells.append(f"{page.get('median_ms', page.get('status')):>12}")
        print(f"{row['page']:28} " + " ".join(cells))
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2) + "\n")


if __name__ == "__main__":
    main()
