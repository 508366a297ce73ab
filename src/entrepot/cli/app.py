"""The root ``entrepot`` command: global options, and the commands listed in :mod:`.commands`.

Each command group lives in its own module of this package and exposes
``register(app)``; a new command is one new module and one line in
:data:`entrepot.cli.commands.COMMANDS`.  Building the root imports no
command module: :class:`~entrepot.cli.commands.LazyGroup` imports the one
that runs.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from entrepot import __version__
from entrepot.cli.commands import LazyGroup
from entrepot.cli.console import set_quiet
from entrepot.logs import SafeFormatter

app = typer.Typer(
    name="entrepot",
    cls=LazyGroup,
    help="Receive data files and events, keep them safely on disk, deliver them.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"entrepot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug)."),
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Receive data files and events, keep them safely on disk, deliver them."""
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    configure_logging(level)
    set_quiet(quiet)


def configure_logging(level: int) -> None:
    """Send log lines (each starting with its event name) to stderr."""
    root = logging.getLogger("entrepot")
    for handler in list(root.handlers):
        if getattr(handler, "_entrepot_cli", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler._entrepot_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
