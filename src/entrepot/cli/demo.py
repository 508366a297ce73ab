"""``entrepot demo``: the whole flow on embedded defaults, in one local folder.

Producers write CSV exports into a spool and append events to a rolling
archive whose sealed files land in the same spool; a shipping job delivers
everything to a local "partner" folder, recorded in a SQLite ledger; then the
status tables show what went where.  Nothing outside the demo folder is
touched and no server is needed.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Annotated

import typer

from entrepot.archive import CountPolicy, RollingWriter
from entrepot.cli.console import out, shown
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.status import JobsSummary, jobs_tables, spool_table
from entrepot.datacenter import DataCenter
from entrepot.jobs import Ledger, Runner
from entrepot.ship import ShipJob, ShipOptions
from entrepot.spool import Spool

DEMO_SCHEMA = """
[tables.customers]
key = ["customer_id"]
[tables.customers.columns]
customer_id = { type = "regex", pattern = "C[0-9]{3}" }
name = { type = "text", required = true }
country = { type = "choice", choices = ["fr", "de", "nl"] }
since = { type = "date" }
"""

DEMO_CUSTOMERS = (
    "customer_id,name,country,since\n"
    "C001,Ada,fr,2024-01-15\n"
    "C002,Bo,de,2025-03-01\n"
    "C003,,nl,2025-13-01\n"
    "C004,Cy,uk,2026-02-02\n"
    "C005,Di,nl,2026-05-05\n"
)


def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Where the demo keeps its spool, ledger and partner.")
    ] = Path(".entrepot-demo"),
    files: Annotated[int, typer.Option("--files", help="CSV exports to produce.", min=1)] = 25,
    events: Annotated[int, typer.Option("--events", help="Events to archive.", min=0)] = 500,
    fresh: Annotated[bool, typer.Option("--fresh/--keep", help="Start from scratch.")] = True,
) -> int:
    """Spool files and events, ship them to a local folder, and show the status."""
    if fresh and folder.exists():
        shutil.rmtree(folder)
    outbox = Spool(folder / "outbox").prepare()
    partner = folder / "partner-drop"
    partner.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)  # noqa: S311 - sample data, not secrets

    # 1. A nightly export: CSV files published in one durable batch.
    with outbox.batch() as batch:
        for number in range(files):
            rows = "".join(
                f"{number * 100 + row},{rng.choice(['fr', 'de', 'nl'])},{rng.randint(1, 999)}.00\n"
                for row in range(100)
            )
            batch.add_bytes(("id,country,amount\n" + rows).encode(), f"orders-{number:03d}.csv")
    out.print(f"[bold]1.[/] published {files} CSV exports into {shown(outbox.root)}/new")

    # 2. An event stream, archived in rolling, compressed files handed to the spool.
    writer = RollingWriter(
        folder / "events", policy=CountPolicy(max(1, events // 3)), compression="zstd", spool=outbox
    )
    for number in range(events):
        payload = {"event": "login", "user": f"u{rng.randint(1, 50)}", "n": number}
        writer.write({"source": "demo", "kind": "login"}, json.dumps(payload))
    writer.close()
    out.print(f"[bold]2.[/] archived {events} events into {len(writer.finished)} sealed archives")

    # 3. A CSV upload imported into SQLite; the rows with problems wait in a pending file.
    (folder / "datacenter").mkdir()
    (folder / "datacenter" / "schema.toml").write_text(DEMO_SCHEMA)
    center = DataCenter(folder / "datacenter", create=True)
    upload = folder / "customers.csv"
    upload.write_text(DEMO_CUSTOMERS)
    uploaded = center.upload(upload, user="demo")
    imported = center.import_file(uploaded.name, "customers", user="demo")
    out.print(
        f"[bold]3.[/] imported {shown(uploaded.name)} into SQLite: {imported.successful} rows in, "
        f"{imported.failed} pending with their reasons in {shown(center.root)}"
    )

    # 4. Ship everything to the partner folder, as a job in the ledger.
    with Ledger.open(folder / "state") as ledger:
        job = ShipJob(str(outbox.root), partner.resolve().as_uri(), options=ShipOptions(parallel=2))
        result = Runner(ledger).run(job)
        out.print(
            f"[bold]4.[/] shipped {len(job.report.done)} files "
            f"({job.report.bytes:,} bytes) to {shown(partner)}: {result.outcome}"
        )
        out.print(spool_table([outbox.root]))
        out.print(jobs_tables(JobsSummary.read(ledger.rows)))
    # The sealed archives left events/ for the spool and were shipped with the
    # CSV files: the partner's folder is where they can be seen now.
    hints = (
        f"entrepot spool ls {outbox.root} --area cur",
        f"entrepot archive ls {partner}",
        f"entrepot status --state {folder / 'state'} {outbox.root}",
        f"entrepot dc ls pending --root {center.root}",
    )
    out.print("Look around: " + ", ".join(f"[cyan]{shown(hint)}[/]" for hint in hints))
    return ExitCode.OK if result.ok else ExitCode.FAILED


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
