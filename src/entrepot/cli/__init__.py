"""The ``entrepot`` command: parse, call the library, map errors to exit codes.

Start-up time is part of every command a user runs, so this package imports
little: ``entrepot --version`` answers before typer or rich are imported,
and the command tree (:mod:`.commands`) imports only the module of the
command that runs.  A test holds every short command to the modules it may
import (``tests/unit/test_cli_startup.py``).
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from entrepot import __version__
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.errors import EntrepotError
from entrepot.interrupts import sigterm_raises

__all__ = ["ExitCode", "main", "run"]

# Options of the root that may come before --version without changing its answer.
_ROOT_FLAG = re.compile(r"--version|--verbose|--quiet|-[vq]+")
# Set by the shell while it asks for completions: typer answers those.
_COMPLETION_VARIABLE = "_ENTREPOT_COMPLETE"
#: Allocations between two collections of the youngest objects, in a command's process.
#: Shipping 2,000 files of 4 KiB to a local folder, the collector took 40–50 ms with
#: the default 700 (one full collection among them: 20–27 ms), 13–16 ms with this.
_YOUNGEST = 10_000


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    return _main(argv, program=False)


def run() -> None:
    """Console-script entry point: the command, then the end of the process
    (:func:`~entrepot.cli.leaving.leave`: without the interpreter's teardown)."""
    from entrepot.cli.leaving import leave

    leave(_main(None, program=True))


def _main(argv: Sequence[str] | None, *, program: bool) -> int:
    """``program``: this process is the command (not a caller of :func:`main`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if _asks_version(args):
        try:
            sys.stdout.write(f"entrepot {__version__}\n")
            sys.stdout.flush()
        except OSError as exc:
            from entrepot.cli.leaving import output_failed

            return output_failed(exc, int(ExitCode.OK))
        return int(ExitCode.OK)
    with _collector_paused(freeze=program):
        command = _command_line(args)
    with _logging_restored(), sigterm_raises() as sigterm:
        code = _run_command(command, args)
    if code == ExitCode.INTERRUPTED:
        from entrepot.cli.console import err

        # typer turns any KeyboardInterrupt into exit code 130.
        err.print("terminated" if sigterm.received else "interrupted")
        return int(ExitCode.TERMINATED if sigterm.received else ExitCode.INTERRUPTED)
    return code


def _command_line(args: list[str]) -> Any:
    """The root command, with the command that ``args`` name already loaded."""
    import typer

    from entrepot.cli.app import app
    from entrepot.cli.commands import LazyGroup, resolve_annotations
    from entrepot.cli.values import plain_values

    resolve_annotations(app)
    command = typer.main.get_command(app)
    plain_values(command)  # the root's options; each command's get theirs when loaded
    # The root's options are all flags: the first other word names the command.
    name = next((arg for arg in args if not arg.startswith("-")), None)
    if name is not None and isinstance(command, LazyGroup):
        # A failure to load it happens again when it runs, and is reported then.
        with suppress(Exception):
            command.get_command(None, name)
    return command


@contextmanager
def _collector_paused(*, freeze: bool) -> Iterator[None]:
    """No cyclic garbage collection while the command line is built.

    Building it (importing typer and the command's modules) makes a great
    many objects and no garbage worth collecting: collecting would only walk
    them again and again.  With ``freeze`` (this process is the command)
    they are then kept out of later collections, which walk only what the
    command itself makes, and the youngest objects are collected every
    :data:`_YOUNGEST` allocations instead of every 700: the modules a
    command imports as it runs (the database layer, above all) are tens of
    thousands of long-lived objects, walked again by every older collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if freeze:
                gc.freeze()
                gc.set_threshold(_YOUNGEST, *gc.get_threshold()[1:])
            gc.enable()


def _asks_version(args: list[str]) -> bool:
    """True when the root's options, before any command, are only flags and ``--version``.

    ``--version`` is eager: the root prints it before it looks at anything
    else, so these command lines need neither typer nor a command module.
    Anything else (``-h`` first, an unknown option) goes the whole way.
    """
    if _COMPLETION_VARIABLE in os.environ:
        return False
    leading = []
    for arg in args:
        if not arg.startswith("-"):
            break
        leading.append(arg)
    return "--version" in leading and all(_ROOT_FLAG.fullmatch(arg) for arg in leading)


@contextmanager
def _logging_restored() -> Iterator[None]:
    """Undo the command's logging set-up afterwards, so in-process callers keep theirs."""
    from entrepot.cli.console import is_quiet, set_quiet

    # The loggers configure_logging sets up: ours, and paramiko's.
    loggers = [logging.getLogger(name) for name in ("entrepot", "paramiko")]
    saved = [(each.level, list(each.handlers), each.propagate) for each in loggers]
    quiet = is_quiet()
    try:
        yield
    finally:
        for logger, (level, handlers, propagate) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate
        set_quiet(quiet)


def _run_command(command: Any, args: list[str]) -> int:
    import typer

    from entrepot.cli.console import print_error

    try:
        result = command.main(args=args, prog_name="entrepot", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:
        # Usage errors (unknown option, missing argument, no arguments at all).
        exc.show(file=sys.stderr)  # type: ignore[attr-defined]
        return int(ExitCode.USAGE)
    except (typer.Abort, KeyboardInterrupt):  # Terminated too: main() tells them apart
        return int(ExitCode.INTERRUPTED)
    except (EntrepotError, OSError) as exc:
        print_error(exc)
        return int(exit_code_for(exc))
    # Commands return an ExitCode (or None for success).
    return int(result) if isinstance(result, int) else int(ExitCode.OK)
