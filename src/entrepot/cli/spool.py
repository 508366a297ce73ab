"""``entrepot spool …``: create, fill, inspect and drain a spool folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from entrepot.cli.console import err, human_age, human_size, out, progress, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.spool import Spool

spool_app = typer.Typer(
    name="spool",
    help="Durable tmp/ → new/ → cur/ folders: put files in, claim them, mark them done.",
    no_args_is_help=True,
)

SpoolPath = Annotated[Path, typer.Argument(help="The spool folder.")]
Durable = Annotated[
    bool, typer.Option("--durable/--no-durable", help="Sync every file to disk (default).")
]


@spool_app.command("init")
def init(path: SpoolPath) -> None:
    """Create the spool folder and its tmp/, new/ and cur/ areas."""
    Spool(path).prepare()
    out.print(f"spool ready: {path}")


@spool_app.command("put")
def put(
    path: SpoolPath,
    files: Annotated[list[Path], typer.Argument(help="Files to publish into new/.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Name in the spool (one file only).")
    ] = None,
    link: Annotated[bool, typer.Option("--link", help="Hard-link instead of copying.")] = False,
    durable: Durable = True,
) -> None:
    """Publish files into new/, each visible only once complete."""
    if name is not None and len(files) != 1:
        raise typer.BadParameter("--name needs exactly one file", param_hint="--name")
    spool = Spool(path, durable=durable).prepare()
    for file in progress(files, "publishing"):
        published = spool.publish_file(file, name, link=link)
        out.print(published)


@spool_app.command("ls")
def ls(
    path: SpoolPath,
    area: Annotated[str, typer.Option("--area", "-a", help="Area to list.")] = "new",
) -> None:
    """List the files of an area, oldest first."""
    now = time.time()
    entries = Spool(path).list(area)
    rows = [(entry.name, human_size(entry.size), human_age(entry.mtime, now)) for entry in entries]
    out.print(table(f"{path}/{area} — {len(entries)} files", ("Name", "Size", "Age"), rows))


@spool_app.command("claim")
def claim(
    path: SpoolPath,
    name: Annotated[str | None, typer.Option("--name", help="Claim this file.")] = None,
) -> int:
    """Claim the oldest file in new/ (or the named one) and print its claim id and path."""
    taken = Spool(path).claim(name)
    if taken is None:
        err.print("nothing to claim")
        return ExitCode.NOT_FOUND
    out.print(f"{taken.id}\t{taken.path}")
    return ExitCode.OK


@spool_app.command("done")
def done(
    path: SpoolPath,
    claim_id: Annotated[str, typer.Argument(help="The id printed by 'claim'.")],
    area: Annotated[str, typer.Option("--area", help="Area to move the file to.")] = "cur",
) -> None:
    """Mark a claimed file done: move it to cur/ (or another area)."""
    final = Spool(path).claim_by_id(claim_id).done(area)
    out.print(str(final))


@spool_app.command("release")
def release(
    path: SpoolPath,
    claim_id: Annotated[str, typer.Argument(help="The id printed by 'claim'.")],
) -> None:
    """Give a claimed file back to new/."""
    Spool(path).claim_by_id(claim_id).release()


@spool_app.command("recover")
def recover(
    path: SpoolPath,
    stale_tmp_age: Annotated[
        float | None, typer.Option("--tmp-age", help="Seconds before a tmp/ file is stale.")
    ] = None,
    lease: Annotated[
        float | None, typer.Option("--lease", help="Seconds before a claim expires.")
    ] = None,
) -> None:
    """Remove stale tmp/ files and return expired claims to new/."""
    report = Spool(path).recover(stale_tmp_age=stale_tmp_age, lease=lease)
    out.print(
        f"removed {len(report.tmp_removed)} stale tmp files, "
        f"released {len(report.claims_released)} expired claims"
    )


@spool_app.command("stats")
def stats(path: SpoolPath) -> None:
    """Files and bytes in each area."""
    rows = [
        (area, numbers.files, human_size(numbers.bytes))
        for area, numbers in Spool(path).stats().items()
    ]
    out.print(table(str(path), ("Area", "Files", "Bytes"), rows))


def register(app: typer.Typer) -> None:
    app.add_typer(spool_app)
