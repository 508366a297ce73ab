"""The root ``entrepot`` command: global options and the command groups.

Each command group lives in its own module of this package and exposes
``register(app)``; the modules listed in :data:`COMMAND_MODULES` are added
when present, so a group is one new file and one line here.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Annotated

import typer

from entrepot import __version__
from entrepot.cli.console import set_quiet
from entrepot.logs import SafeFormatter

#: Command modules, in the order their groups appear in ``--help``.
COMMAND_MODULES = (
    "demo",
    "status",
    "spool",
    "archive",
    "targets",
    "ship",
    "jobs",
    "dc",
    "service",
)

app = typer.Typer(
    name="entrepot",
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


def _register_all() -> None:
    for name in COMMAND_MODULES:
        module_name = f"{__package__}.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(app)


_register_all()
