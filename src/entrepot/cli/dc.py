"""``entrepot dc``: the data center — uploads, imports, listings, exports, the log.

The data center root comes from ``--root`` or ``ENTREPOT_DC_ROOT``; the
database from ``--db`` or ``ENTREPOT_DC_DATABASE`` (default: SQLite in the
root's state folder) — a URL without a password, which ``--db-password-env``
or ``--db-password-file`` name instead (or libpq finds it: ``PGPASSWORD``,
``PGPASSFILE``); the table schema from ``--schema`` or ``ENTREPOT_DC_SCHEMA``
(default: ``<root>/schema.toml``).  Every command prints JSON with ``--json``.
``dc import`` lives in :mod:`entrepot.cli.dc_import`.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from entrepot.cli.console import emit_json, err, out, shown, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import StateOption, arrivals_in
from entrepot.datacenter import DataCenter, UploadPolicy
from entrepot.datacenter.center import Area
from entrepot.datacenter.db_secrets import read_password, refuse_password, with_password
from entrepot.datacenter.listing import SortKey
from entrepot.datacenter.logfile import parse_line
from entrepot.datacenter.uploads import open_source
from entrepot.errors import UploadRejected
from entrepot.provenance.events import Kind
from entrepot.units import parse_size

dc_app = typer.Typer(
    name="dc",
    help="The data center: CSV uploads, validated imports into tables, exports and logs.",
    no_args_is_help=True,
)

RootOption = Annotated[
    Path,
    typer.Option("--root", envvar="ENTREPOT_DC_ROOT", help="Data center root folder."),
]


def _optional(flag: str, help: str, **settings: Any) -> Any:
    """An option without default, its help shown as given."""
    return typer.Option(flag, help=help, show_default=False, **settings)


DbOption = Annotated[
    str | None,
    _optional(
        "--db",
        "Database URL, without a password (default: SQLite in the root's state folder).",
        envvar="ENTREPOT_DC_DATABASE",
    ),
]
DbPasswordEnvOption = Annotated[
    str | None,
    _optional(
        "--db-password-env", "Environment variable holding the database password.", metavar="VAR"
    ),
]
DbPasswordFileOption = Annotated[
    Path | None,
    _optional("--db-password-file", "File holding the database password (owner-only mode)."),
]
SchemaOption = Annotated[
    Path | None,
    _optional(
        "--schema", "Table schema file (default: <root>/schema.toml).", envvar="ENTREPOT_DC_SCHEMA"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def check_db_url(db: str | None) -> None:
    """Refuse a database URL that carries its password (it would be shown and stored)."""
    refuse_password(db, "--db (or ENTREPOT_DC_DATABASE)")


def _center(
    root: Path,
    db: str | None,
    password_env: str | None,
    password_file: Path | None,
    schema: Path | None,
) -> DataCenter:
    check_db_url(db)
    url = None
    if db is not None:
        url = with_password(db, read_password(env=password_env, file=password_file))
    return DataCenter(root, database=url, schema=schema)


@dc_app.command("init")
def init(root: RootOption, as_json: JsonOption = False) -> None:
    """Create the data center folders (root, finished/, unfinished/, deleted/, …)."""
    center = DataCenter(root, create=True)
    if as_json:
        emit_json({"root": str(center.root)})
        return
    out.print(f"data center ready in {shown(center.root)}")


@dc_app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(help="The CSV file (.csv or .csv.gz) to upload.")],
    root: RootOption,
    name: Annotated[str | None, typer.Option(help="Upload under this name.")] = None,
    user: Annotated[
        str | None, typer.Option(help="Uploader, appended to the name (default: you).")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8-sig",
    max_bytes: Annotated[
        int,
        typer.Option(
            help="Refuse larger files (decompressed size for .csv.gz), e.g. 512MiB.",
            parser=parse_size,
            metavar="SIZE",
        ),
    ] = UploadPolicy.max_bytes,
    state: StateOption = None,
    no_provenance: Annotated[
        bool, typer.Option("--no-provenance", help="Do not record the upload.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Store a CSV file in the data center, ready to be imported.

    The upload (size, SHA-256 computed as the file is copied) is written to
    the state folder's shared file of arrivals, recorded in the ledger by the
    next command that opens it (``entrepot trace``).  A folder, a FIFO or a
    device is a usage error, told before anything is written or recorded.
    """
    policy = UploadPolicy(max_bytes=max_bytes, encoding=encoding)
    try:
        source = open_source(file)
    except UploadRejected as exc:
        raise typer.BadParameter(str(exc)) from None
    with source:
        center = DataCenter(root, upload_policy=policy)
        uploader = user or getpass.getuser()
        journal = None if no_provenance else arrivals_in(state)
        digest = None if journal is None else hashlib.sha256()
        try:
            stored = center.upload(source, name or file.name, user=uploader, digest=digest)
            if journal is not None:
                details = {"source": os.path.abspath(file), "user": uploader}
                journal.arrived(Kind.UPLOADED, center.root, stored, digest, details)
        finally:
            if journal is not None:
                journal.close()
    if as_json:
        emit_json({"file": str(file), "stored": stored.name, "size": stored.stat().st_size})
        return
    out.print(f"uploaded {shown(file.name)} as {shown(stored.name)}")


@dc_app.command("ls")
def ls(
    root: RootOption,
    area: Annotated[Area, typer.Argument(help="The area to list.")] = "pending",
    sort: Annotated[SortKey, typer.Option(help="By name, or by date (newest first).")] = "name",
    as_json: JsonOption = False,
) -> None:
    """List the files of an area of the data center."""
    files = DataCenter(root).files(area, sort=sort)
    if as_json:
        emit_json([{**info.as_json(), "path": str(info.path)} for info in files])
        return
    rows = [(info.name, info.human_size, info.local_date) for info in files]
    out.print(table(f"{area} ({len(rows)})", ["Name", "Size", "Date"], rows))


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
    db_password_env: DbPasswordEnvOption = None,
    db_password_file: DbPasswordFileOption = None,
    schema: SchemaOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a table (or the rows matching --where) to CSV."""
    with _center(root, db, db_password_env, db_password_file, schema) as center:
        place, count = center.export(
            table_name, where=where or [], to_spool=to_spool, safe_cells=not raw_cells
        )
    if as_json:
        spool = str(to_spool) if to_spool is not None else None
        emit_json({"table": table_name, "rows": count, "spool": spool, "file": place})
        return
    target = f"spool {to_spool} as {place}" if to_spool is not None else place
    out.print(f"exported {count} rows of {shown(table_name)} to {shown(target)}")


@dc_app.command("retire")
def retire(
    table_name: Annotated[str, typer.Argument(metavar="TABLE", help="Table to retire rows from.")],
    root: RootOption,
    where: Annotated[list[str], typer.Option(help="Filter selecting the rows (repeatable).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the rows that would go; change nothing.")
    ] = False,
    db: DbOption = None,
    db_password_env: DbPasswordEnvOption = None,
    db_password_file: DbPasswordFileOption = None,
    schema: SchemaOption = None,
    state: StateOption = None,
    no_provenance: Annotated[
        bool, typer.Option("--no-provenance", help="Do not record the retirement.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Move the matching rows to a CSV backup in graduated/, then remove them.

    The retirement (table, rows, filters) is written to the state folder's
    shared file of arrivals as a ``retired`` event on the backup file.
    """
    journal = None if no_provenance or dry_run else arrivals_in(state)
    try:
        with _center(root, db, db_password_env, db_password_file, schema) as center:
            backup, count = center.retire(
                table_name, where=where, dry_run=dry_run, provenance=journal
            )
    finally:
        if journal is not None:
            journal.close()
    if as_json:
        emit_json(
            {
                "table": table_name,
                "rows": count,
                "dry_run": dry_run,
                "backup": str(backup) if backup is not None else None,
            }
        )
        return
    if dry_run:
        out.print(f"would retire {count} rows of {table_name}; nothing changed", markup=False)
    elif backup is None:
        out.print(f"no rows of {table_name} match; nothing retired", markup=False)
    else:
        out.print(
            f"retired {count} rows of {table_name} into graduated/{backup.name}", markup=False
        )


@dc_app.command("log")
def log(
    root: RootOption,
    grep: Annotated[str | None, typer.Option(help="Only lines matching this regex.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the last N lines.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the import log (logs/datacenter.log)."""
    lines = DataCenter(root).log.search(grep, limit=limit)
    if as_json:
        emit_json([parse_line(line) for line in lines])
        return
    for line in lines:
        out.print(shown(line))


@dc_app.command("move-storage")
def move_storage(
    path: Annotated[Path, typer.Argument(help="New root folder (must exist).")],
    root: RootOption,
    move: Annotated[
        bool, typer.Option("--move", help="Copy the files there, then remove the old root.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace files already there.")] = False,
    as_json: JsonOption = False,
) -> int:
    """Switch the data center to a new folder, optionally taking the files along."""
    center = DataCenter(root)
    not_copied = center.move_storage(path, take_files=move, overwrite=overwrite, remove_old=move)
    code = ExitCode.FAILED if not_copied else ExitCode.OK
    if as_json:
        emit_json({"root": str(center.root), "not_copied": not_copied})
        return int(code)
    for name in not_copied:
        err.print(f"not copied: {shown(name)}")
    if not_copied:
        err.print(
            f"the old root {shown(root)} was kept because {len(not_copied)} files were not copied"
        )
        return int(code)
    out.print(
        f"data center now in {shown(center.root)}; set ENTREPOT_DC_ROOT or --root accordingly"
    )
    return int(code)


def register(app: typer.Typer) -> None:
    from entrepot.cli import dc_import

    dc_import.register(dc_app)
    app.add_typer(dc_app, name="dc")
