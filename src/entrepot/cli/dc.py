"""``entrepot dc``: the data center — uploads, imports, listings, exports, the log.

The data center root comes from ``--root`` or ``ENTREPOT_DC_ROOT``; the
database from ``--db`` or ``ENTREPOT_DC_DATABASE`` (default: SQLite in the
root's state folder); the table schema from ``--schema`` or
``ENTREPOT_DC_SCHEMA`` (default: ``<root>/schema.toml``).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from entrepot.cli.console import err, out, table
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.cli.jobs import LedgerOption, StateOption, open_ledger
from entrepot.datacenter import AREAS, DataCenter, ImportJob, UploadPolicy
from entrepot.datacenter.columnar import READERS, check_reader
from entrepot.errors import is_transient
from entrepot.jobs import Runner

dc_app = typer.Typer(
    name="dc",
    help="The data center: CSV uploads, validated imports into tables, exports and logs.",
    no_args_is_help=True,
)

RootOption = Annotated[
    Path,
    typer.Option("--root", envvar="ENTREPOT_DC_ROOT", help="Data center root folder."),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="ENTREPOT_DC_DATABASE",
        help="Database URL (default: SQLite in the root's state folder).",
        show_default=False,
    ),
]
SchemaOption = Annotated[
    Path | None,
    typer.Option(
        "--schema",
        envvar="ENTREPOT_DC_SCHEMA",
        help="Table schema file (default: <root>/schema.toml).",
        show_default=False,
    ),
]


def _center(
    root: Path, db: str | None = None, schema: Path | None = None, **kw: object
) -> DataCenter:
    return DataCenter(root, database=db, schema=schema, **kw)  # type: ignore[arg-type]


@dc_app.command("init")
def init(root: RootOption) -> None:
    """Create the data center folders (root, finished/, unfinished/, deleted/, …)."""
    center = DataCenter(root, create=True)
    out.print(f"data center ready in {center.root}")


@dc_app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(help="The CSV file (.csv or .csv.gz) to upload.")],
    root: RootOption,
    name: Annotated[str | None, typer.Option(help="Upload under this name.")] = None,
    user: Annotated[
        str | None, typer.Option(help="Uploader, appended to the name (default: you).")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8-sig",
    max_bytes: Annotated[int, typer.Option(help="Refuse larger files.")] = 512 * 1024 * 1024,
) -> None:
    """Store a CSV file in the data center, ready to be imported."""
    policy = UploadPolicy(max_bytes=max_bytes, encoding=encoding)
    center = DataCenter(root, upload_policy=policy)
    stored = center.upload(file, name or file.name, user=user or getpass.getuser())
    out.print(f"uploaded {file.name} as {stored.name}")


@dc_app.command("ls")
def ls(
    root: RootOption,
    area: Annotated[
        str, typer.Argument(help=f"One of: {', '.join(AREAS)}.", show_default=True)
    ] = "pending",
    sort: Annotated[str, typer.Option(help="Order by 'name' or 'date' (newest first).")] = "name",
) -> int:
    """List the files of an area of the data center."""
    if area not in AREAS:
        err.print(f"unknown area {area!r}: use one of {', '.join(AREAS)}")
        return int(ExitCode.USAGE)
    if sort not in ("name", "date"):
        err.print("--sort must be 'name' or 'date'")
        return int(ExitCode.USAGE)
    center = DataCenter(root)
    files = center.files(area, sort=sort)  # type: ignore[arg-type]
    rows = [(info.name, info.human_size, info.local_date) for info in files]
    out.print(table(f"{area} ({len(rows)})", ["Name", "Size", "Date"], rows))
    return int(ExitCode.OK)


@dc_app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="Name of a file in the data center root.")],
    root: RootOption,
    table_name: Annotated[str, typer.Option("--table", "-t", help="Table to import into.")],
    mode: Annotated[str, typer.Option("--mode", "-m", help="create, update or remove.")] = "create",
    db: DbOption = None,
    schema: SchemaOption = None,
    user: Annotated[str | None, typer.Option(help="Who imports (default: you).")] = None,
    chunk_size: Annotated[int, typer.Option(help="Rows per transaction.")] = 5000,
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8-sig",
    reader: Annotated[
        str,
        typer.Option(
            help="Who parses the rows: arrow (fast; falls back to csv where the file needs it) "
            "or csv (the csv module throughout)."
        ),
    ] = "arrow",
    state: StateOption = None,
    ledger: LedgerOption = None,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="Do not record the run.")] = False,
) -> int:
    """Import a file; failed rows go to <name>.<mode>.pending.csv with their reasons.

    The import is a job in the ledger: when it fails (file missing, database
    down) it waits in the backlog, and `entrepot backlog retry ID` finishes it.
    Running the same import again after an interruption finishes it too.
    """
    if reader not in READERS:
        err.print(f"--reader must be one of: {', '.join(READERS)}")
        return int(ExitCode.USAGE)
    name = Path(file).name
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"importing {name}", total=1.0, rows=0)

        def progress(rows: int, fraction: float | None) -> None:
            bar.update(task, completed=fraction if fraction is not None else 0.0, rows=rows)

        job = ImportJob(
            root,
            name,
            table_name,
            mode,
            schema=schema,
            database=db,
            chunk_size=chunk_size,
            encoding=encoding,
            reader=check_reader(reader),
            user=user or getpass.getuser(),
            on_progress=progress,
        )
        if no_ledger:
            run = Runner(None).run(job)
        else:
            with open_ledger(state, ledger) as book:
                run = Runner(book).run(job)
    result = job.result
    if not run.ok or result is None:
        cause = run.error.__cause__ if run.error is not None else None
        message = str(cause) if cause is not None else str(run.error)
        err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
        if run.state is not None:
            err.print(f"job {run.job_id} is now {run.state}; `entrepot backlog retry` re-runs it")
        if cause is None:
            return int(ExitCode.FAILED)
        return int(ExitCode.TEMPORARY if is_transient(cause) else exit_code_for(cause))
    summary = [
        ("file", result.source),
        ("table", result.table),
        ("mode", result.mode),
        ("processed", result.processed),
        ("successful", result.successful),
        ("failed", result.failed),
        ("duration", f"{result.duration:.2f} s"),
        ("finished rows", result.finished_file.name),
    ]
    if result.pending_file is not None:
        summary.append(("pending rows", result.pending_file.name))
    if result.resumed:
        summary.append(("note", "an interrupted import was finished"))
    summary.append(("job", run.job_id))
    out.print(table("import", ["Item", "Value"], summary))
    return int(ExitCode.OK if result.all_ok else ExitCode.DATA)


@dc_app.command("export")
def export(
    table_name: Annotated[str, typer.Argument(metavar="TABLE", help="Table to export.")],
    root: RootOption,
    where: Annotated[
        list[str] | None,
        typer.Option(help="Filter such as status=active or born<2000-01-01 (repeatable)."),
    ] = None,
    to_spool: Annotated[
        Path | None, typer.Option(help="Publish the file into this spool for shipping.")
    ] = None,
    raw_cells: Annotated[
        bool, typer.Option(help="Do not neutralise cells that spreadsheets run as formulas.")
    ] = False,
    db: DbOption = None,
    schema: SchemaOption = None,
) -> None:
    """Export a table (or the rows matching --where) to CSV."""
    with _center(root, db, schema) as center:
        where_list = where or []
        place, count = center.export(
            table_name, where=where_list, to_spool=to_spool, safe_cells=not raw_cells
        )
    target = f"spool {to_spool} as {place}" if to_spool is not None else place
    out.print(f"exported {count} rows of {table_name} to {target}")


@dc_app.command("retire")
def retire(
    table_name: Annotated[str, typer.Argument(metavar="TABLE", help="Table to retire rows from.")],
    root: RootOption,
    where: Annotated[list[str], typer.Option(help="Filter selecting the rows (repeatable).")],
    db: DbOption = None,
    schema: SchemaOption = None,
) -> None:
    """Move the matching rows to a CSV backup in graduated/, then remove them."""
    with _center(root, db, schema) as center:
        backup, count = center.retire(table_name, where=where)
    if backup is None:
        out.print(f"no rows of {table_name} match; nothing retired")
    else:
        out.print(f"retired {count} rows of {table_name} into graduated/{backup.name}")


@dc_app.command("log")
def log(
    root: RootOption,
    grep: Annotated[str | None, typer.Option(help="Only lines matching this regex.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
) -> None:
    """Show the import log (logs/datacenter.log)."""
    for line in DataCenter(root).log.search(grep, limit=limit):
        out.print(line, markup=False)


@dc_app.command("move-storage")
def move_storage(
    path: Annotated[Path, typer.Argument(help="New root folder (must exist).")],
    root: RootOption,
    move: Annotated[
        bool, typer.Option("--move", help="Copy the files there, then remove the old root.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace files already there.")] = False,
) -> int:
    """Switch the data center to a new folder, optionally taking the files along."""
    center = DataCenter(root)
    not_copied = center.move_storage(path, take_files=move, overwrite=overwrite, remove_old=move)
    for name in not_copied:
        err.print(f"not copied: {name}", markup=False)
    if not_copied:
        err.print(f"the old root {root} was kept because {len(not_copied)} files were not copied")
        return int(ExitCode.FAILED)
    out.print(f"data center now in {center.root}; set ENTREPOT_DC_ROOT or --root accordingly")
    return int(ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.add_typer(dc_app, name="dc")
