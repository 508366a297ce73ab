"""The ``entrepot`` command: parse, call the library, map errors to exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer

from entrepot.cli.console import err, out, print_error
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.errors import EntrepotError
from entrepot.interrupts import sigterm_raises

__all__ = ["ExitCode", "main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    from entrepot.cli.app import app

    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    with _logging_restored(), sigterm_raises() as sigterm:
        code = _run_command(command, args)
    if code == ExitCode.INTERRUPTED:
        # typer turns any KeyboardInterrupt into exit code 130.
        err.print("terminated" if sigterm.received else "interrupted")
        return int(ExitCode.TERMINATED if sigterm.received else ExitCode.INTERRUPTED)
    return code


@contextmanager
def _logging_restored() -> Iterator[None]:
    """Undo the command's logging set-up afterwards, so in-process callers keep theirs."""
    library = logging.getLogger("entrepot")
    level, handlers, quiet = library.level, list(library.handlers), out.quiet
    try:
        yield
    finally:
        library.setLevel(level)
        library.handlers[:] = handlers
        out.quiet = quiet


def _run_command(command: Any, args: list[str]) -> int:
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


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
