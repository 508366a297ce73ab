"""``entrepot dc import``: one import as a job of the ledger, with a progress bar.

The command exits 0 when every row was imported and 7 (data) when some rows
wait in the pending file.  A mistake of the command line is told before any
job is recorded (:meth:`~entrepot.datacenter.ImportJob.check`): 4 for a data
center root that does not exist, 3 for a schema that is missing, wrong or
without the table, or a database password whose variable or file is not
there.  When the import itself fails it exits with the failure's code — 4
for a missing file, 7 for a bad header, 5 for what may pass (the database
unreachable, another process importing the same file) — and the job waits
in the backlog.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from entrepot.cli.console import emit_json, err, out, print_error, shown, table
from entrepot.cli.dc import (
    DbOption,
    DbPasswordEnvOption,
    DbPasswordFileOption,
    JsonOption,
    RootOption,
    SchemaOption,
    check_db_url,
)
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.cli.jobs import LedgerOption, StateOption, open_ledger
from entrepot.datacenter import ImportJob, ImportOptions, ImportResult
from entrepot.datacenter.imports.options import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_COMMIT_ROWS,
    EMPTY_CELLS,
    MAX_EXPANDED,
    MAX_FIELD,
    MAX_RECORD,
    MODES,
    READERS,
    EmptyCells,
    Mode,
    Reader,
)
from entrepot.errors import ConfigError, is_transient
from entrepot.jobs import Runner, RunResult
from entrepot.units import parse_size


def _one_of(choices: tuple[str, ...]) -> dict[str, Any]:
    """Option settings taking one of ``choices``.

    A parser rather than a ``Literal`` annotation: typer converts a
    ``Literal`` through pydantic, which would be imported for that alone.
    """

    def parse(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(map(repr, choices))}.")
        return value

    parser: Callable[[str], str] = parse
    return {"parser": parser, "metavar": f"[{'|'.join(choices)}]"}


def import_(
    file: Annotated[str, typer.Argument(help="Name of a file in the data center root.")],
    root: RootOption,
    table_name: Annotated[str, typer.Option("--table", "-t", help="Table to import into.")],
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="What the rows do.", **_one_of(MODES))
    ] = "create",
    empty: Annotated[
        str,
        typer.Option(
            help="In update mode, what an empty cell does to the stored value.",
            **_one_of(EMPTY_CELLS),
        ),
    ] = "keep",
    db: DbOption = None,
    db_password_env: DbPasswordEnvOption = None,
    db_password_file: DbPasswordFileOption = None,
    schema: SchemaOption = None,
    user: Annotated[str | None, typer.Option(help="Who imports (default: you).")] = None,
    chunk_size: Annotated[
        int, typer.Option(help="Rows checked and written at a time.")
    ] = DEFAULT_CHUNK_SIZE,
    commit_rows: Annotated[
        int,
        typer.Option(
            help="Rows per transaction (whole chunks): an interrupted import redoes at most these."
        ),
    ] = DEFAULT_COMMIT_ROWS,
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8-sig",
    reader: Annotated[
        str,
        typer.Option(
            help="Who parses the rows: arrow (fast; falls back to csv where the file needs it) "
            "or csv (the csv module throughout).",
            **_one_of(READERS),
        ),
    ] = "arrow",
    max_field: Annotated[
        int, typer.Option(help="Characters one cell may hold.", parser=parse_size, metavar="SIZE")
    ] = MAX_FIELD,
    max_record: Annotated[
        int, typer.Option(help="Bytes one line may hold.", parser=parse_size, metavar="SIZE")
    ] = MAX_RECORD,
    max_expanded: Annotated[
        int,
        typer.Option(help="Bytes a .csv.gz file may expand to.", parser=parse_size, metavar="SIZE"),
    ] = MAX_EXPANDED,
    state: StateOption = None,
    ledger: LedgerOption = None,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="Do not record the run.")] = False,
    no_provenance: Annotated[
        bool, typer.Option("--no-provenance", help="Do not record the file's import (trace).")
    ] = False,
    as_json: JsonOption = False,
) -> int:
    """Import a file; failed rows go to <name>.<mode>.pending.csv with their reasons.

    The import is a job in the ledger: when it fails (file missing, database
    down) it waits in the backlog, and `entrepot backlog retry ID` finishes it.
    Running the same import again after an interruption finishes it too.
    """
    check_db_url(db)
    options = ImportOptions(
        mode=cast(Mode, mode),
        user=user or getpass.getuser(),
        chunk_size=chunk_size,
        commit_rows=commit_rows,
        encoding=encoding,
        reader=cast(Reader, reader),
        empty=cast(EmptyCells, empty),
        max_field=max_field,
        max_record=max_record,
        max_expanded=max_expanded,
    )
    name = _name_in_root(file, root)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"importing {shown(name)}", total=1.0, rows=0)

        def progress(rows: int, fraction: float | None) -> None:
            bar.update(task, completed=fraction if fraction is not None else 0.0, rows=rows)

        job = ImportJob(
            root,
            name,
            table_name,
            options=options,
            schema=schema,
            database=db,
            password_env=db_password_env,
            password_file=db_password_file,
            on_progress=progress,
            provenance=not no_provenance,
        )
        job.check()  # a mistake is told now, with its code, and no job waits for it
        if no_ledger:
            run = Runner(None).run(job)
        else:
            with open_ledger(state, ledger) as book:
                run = Runner(book).run(job)
    result = job.result
    if not run.ok or result is None:
        return _failed(run, as_json)
    if as_json:
        emit_json({"ok": True, **result.as_json(), "job_id": run.job_id})
    else:
        out.print(table("import", ["Item", "Value"], _summary(result, run)))
    return int(ExitCode.OK if result.all_ok else ExitCode.DATA)


def _name_in_root(file: str, root: Path) -> str:
    """``file`` as the name of a file in ``root``: a path must lead there, never elsewhere."""
    path = Path(file)
    if path.name == file or os.path.realpath(path.parent) == os.path.realpath(root):
        return path.name
    raise ConfigError(
        f"{file!r} is not in the data center root {str(root)!r}: give the name of a file"
        " in the root, or upload it there first (entrepot dc upload)"
    )


def _failed(run: RunResult, as_json: bool) -> int:
    cause = run.error.__cause__ if run.error is not None else None
    message = str(cause) if cause is not None else str(run.error)
    if cause is None:
        code = ExitCode.FAILED
    else:
        code = ExitCode.TEMPORARY if is_transient(cause) else exit_code_for(cause)
    print_error(message)
    if run.state is not None:
        err.print(f"job {run.job_id} is now {run.state}; `entrepot backlog retry` re-runs it")
    if as_json:
        state = str(run.state) if run.state is not None else None
        emit_json(
            {"ok": False, "error": message, "job_id": run.job_id, "state": state, "exit": int(code)}
        )
    return int(code)


def _summary(result: ImportResult, run: RunResult) -> list[tuple[str, object]]:
    summary: list[tuple[str, object]] = [
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
    return summary


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
