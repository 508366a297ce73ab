"""``entrepot spool …``: create, fill, inspect and drain a spool folder.

Only ``spool init`` (or ``spool put --create``) creates a spool: every other
command on a path that is not a spool fails with exit code 4, so a typo never
makes a new spool that nobody reads.  Each command takes a folder or the name
of a configured spool (:mod:`entrepot.cli.names`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from entrepot.cli import console, names
from entrepot.cli.console import emit_json, human_age, human_size, progress, say, shown, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import StateOption, receipts_in
from entrepot.cli.lines import signals_held
from entrepot.cli.names import ConfigOption
from entrepot.errors import ClaimLost, EntryNotFound
from entrepot.redact import printable
from entrepot.spool import AREAS, CLAIM_AREA, Claim, Spool
from entrepot.spool.entries import Entry
from entrepot.units import parse_duration

spool_app = typer.Typer(
    name="spool",
    help="Durable tmp/ → new/ → cur/ folders: put files in, claim them, mark them done.",
    no_args_is_help=True,
)

# Text, not a Path: "./outbox" (a folder) and "outbox" (maybe a name) must stay apart.
SpoolPath = Annotated[str, typer.Argument(help="The spool folder, or a configured spool's name.")]
Durable = Annotated[
    bool, typer.Option("--durable/--no-durable", help="Sync every file to disk (default).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def existing(path: str, config: Path | None = None, **options: Any) -> Spool:
    """The spool at ``path`` (or named so); SpoolNotFound (exit 4) when there is none."""
    return Spool(names.spool_path(path, config)[0], **options).check()


@spool_app.command("init")
def init(path: SpoolPath, config: ConfigOption = None) -> None:
    """Create the spool folder and its tmp/, new/ and cur/ areas."""
    folder = names.spool_path(path, config, creating=True)[0]
    Spool(folder).prepare()
    console.out.print(f"spool ready: {shown(folder)}")


@spool_app.command("put")
def put(
    path: SpoolPath,
    files: Annotated[list[Path], typer.Argument(help="Files to publish into new/.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Name in the spool (one file only).")
    ] = None,
    link: Annotated[bool, typer.Option("--link", help="Hard-link instead of copying.")] = False,
    create: Annotated[
        bool, typer.Option("--create", help="Create the spool if it does not exist.")
    ] = False,
    durable: Durable = True,
    config: ConfigOption = None,
    state: StateOption = None,
    no_provenance: Annotated[
        bool, typer.Option("--no-provenance", help="Do not record the files' receipt.")
    ] = False,
) -> None:
    """Publish files into new/, each visible only once complete.

    Files are published one by one: Ctrl-C or SIGTERM stops between two
    files (the file in hand is finished first), and every file published is
    printed, and every file printed is in new/.  Each file's receipt
    (size, SHA-256 computed as it is copied) is written to the state
    folder's shared receipts file (when the state folder exists or is named),
    which the next command that opens the ledger records (``entrepot trace``).
    """
    if name is not None and len(files) != 1:
        raise typer.BadParameter("--name needs exactly one file", param_hint="--name")
    journal = None if no_provenance else receipts_in(state)
    folder = names.spool_path(path, config, creating=create)[0]
    spool = Spool(folder, durable=durable, provenance=journal)
    try:
        if create:
            spool.prepare()
        spool.check()
        for file in progress(files, "publishing"):
            # A stop waits until the name is printed: a file published but never
            # printed would be put again by a re-run, and refused as already there.
            with signals_held():
                say(spool.publish_file(file, name, link=link))
    finally:
        if journal is not None:
            journal.close()


def _entry_json(entry: Entry, now: float) -> dict[str, Any]:
    return {"name": entry.name, "size": entry.size, "mtime": entry.mtime, "age": now - entry.mtime}


@spool_app.command("ls")
def ls(
    path: SpoolPath,
    area: Annotated[str, typer.Option("--area", "-a", help="Area to list.")] = "new",
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List the files of an area, oldest first (an area the spool has not is a mistake)."""
    now = time.time()
    spool = existing(path, config)
    if area not in {*AREAS, CLAIM_AREA} and not spool.area(area).is_dir():
        present = sorted(p.name for p in spool.root.iterdir() if p.is_dir() and p.name[0] != ".")
        shown_areas = printable(", ".join(present))
        raise typer.BadParameter(
            f"the spool has no area {area!r} (it has {shown_areas})", param_hint="--area"
        )
    entries = spool.list(area)
    if as_json:
        emit_json([_entry_json(entry, now) for entry in entries])
        return
    rows = [(entry.name, human_size(entry.size), human_age(entry.mtime, now)) for entry in entries]
    title = f"{shown(path)}/{shown(area)} — {len(entries)} files"
    console.out.print(table(title, ("Name", "Size", "Age"), rows))


@spool_app.command("claim")
def claim(
    path: SpoolPath,
    name: Annotated[str | None, typer.Option("--name", help="Claim this file.")] = None,
    config: ConfigOption = None,
) -> int:
    """Claim the oldest file in new/ (or the named one) and print its claim id and path.

    A named entry that is not a regular file (a symbolic link) is refused (exit 6).
    """
    taken = existing(path, config).claim(name)
    if taken is None:
        console.err.print("nothing to claim")
        return ExitCode.NOT_FOUND
    console.out.print(f"{shown(taken.id)}\t{shown(taken.path)}")
    return ExitCode.OK


@spool_app.command("done")
def done(
    path: SpoolPath,
    claim_id: Annotated[str, typer.Argument(help="The id printed by 'claim'.")],
    area: Annotated[str, typer.Option("--area", help="Area to move the file to.")] = "cur",
    config: ConfigOption = None,
) -> None:
    """Mark a claimed file done: move it to cur/ (or another area)."""
    final = held(existing(path, config), claim_id).done(area)
    console.out.print(shown(final))


@spool_app.command("release")
def release(
    path: SpoolPath,
    claim_id: Annotated[str, typer.Argument(help="The id printed by 'claim'.")],
    config: ConfigOption = None,
) -> None:
    """Give a claimed file back to new/."""
    held(existing(path, config), claim_id).release()


def held(spool: Spool, claim_id: str) -> Claim:
    """The claim ``claim_id`` of ``spool``; EntryNotFound (exit 4) when it is not held."""
    try:
        return spool.claim_by_id(claim_id)
    except ClaimLost as exc:
        raise EntryNotFound(
            f"{exc}: its file is not in {CLAIM_AREA}/ (done, released, "
            "or given back after its lease)"
        ) from None


@spool_app.command("recover")
def recover(
    path: SpoolPath,
    stale_tmp_age: Annotated[
        float | None,
        typer.Option("--tmp-age", parser=parse_duration, help="Age of a stale tmp/ file (36h)."),
    ] = None,
    lease: Annotated[
        float | None,
        typer.Option("--lease", parser=parse_duration, help="Age of an expired claim (15m)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Remove stale tmp/ files and return expired claims to new/."""
    report = existing(path, config).recover(stale_tmp_age=stale_tmp_age, lease=lease)
    console.out.print(
        f"removed {len(report.tmp_removed)} stale tmp files, "
        f"released {len(report.claims_released)} expired claims"
    )


@spool_app.command("stats")
def stats(path: SpoolPath, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Files and bytes in each area."""
    figures = existing(path, config).stats()
    if as_json:
        emit_json({area: {"files": s.files, "bytes": s.bytes} for area, s in figures.items()})
        return
    rows = [(area, numbers.files, human_size(numbers.bytes)) for area, numbers in figures.items()]
    console.out.print(table(shown(path), ("Area", "Files", "Bytes"), rows))


def register(app: typer.Typer) -> None:
    app.add_typer(spool_app)
