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
    """Send log lines (each starting with its event name) to stderr.

    paramiko logs on its own (its transport thread's failures, with a
    traceback, and the server's banner): what it reports, the target reports
    as an error of its own, so its lines are shown only at ``-vv`` — escaped
    like ours, never through Python's last-resort handler.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler._entrepot_cli = True  # type: ignore[attr-defined]
    for name, wanted in (("entrepot", level), ("paramiko", _quieter(level))):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if getattr(old, "_entrepot_cli", False):
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(wanted)
    logging.getLogger("paramiko").propagate = False


def _quieter(level: int) -> int:
    """The level of a library's own logger: its debugging lines at ``-vv``, else nothing."""
    return level if level <= logging.DEBUG else logging.CRITICAL + 1
