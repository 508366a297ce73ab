"""How the ``entrepot`` process ends: what it owes is done, the interpreter's teardown is not.

Once a command has returned, the interpreter would tear down every module
and object it loaded, one by one — memory the system takes back at once
when the process ends.  For a command that opened the ledger (SQLAlchemy,
typer, rich: a few hundred thousand objects) that is some 40–60 ms of the
whole command, up to a fifth of an ``entrepot trace``.  :func:`leave` ends the
process without it, after doing what the end of a process owes others:

* threads that are not daemons are waited for, as the interpreter would:
  while one still runs, the process ends the usual way instead;
* the exit handlers run (:mod:`atexit`: logging flushes and closes its
  handlers, temporary folders are removed…);
* standard output and error are flushed.  A failure there (a full disk
  behind a redirection) after a command that succeeded is told on standard
  error and ends the process with its exit code, never 0; after a command
  that failed (and told why: its output failing too, as often) it keeps
  the command's code, told once.  A reader that went away (``| head``)
  ends it quietly, with the command's code (1 if that was 0: not
  everything was written).

What the teardown would do besides — close files and database connections
still open — has nothing left to do: every command closes what it opens
(its ledger commits wait for the disk, ``synchronous=FULL``), and the
connections closed without it keep nothing SQLite does not find again in
its write-ahead log.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

__all__ = ["leave", "output_failed"]


def leave(code: int) -> NoReturn:
    """End this process with exit code ``code``; see the module docstring."""
    if _threads_running():
        sys.exit(code)  # the interpreter waits for them, then tears down
    try:
        atexit._run_exitfuncs()  # the handlers the interpreter would run
    finally:
        code = _flushed(code)
    os._exit(code)


def output_failed(exc: OSError, code: int) -> int:
    """Tell that the output could not be written (``exc``); the exit code to end with,
    ``code`` being the command's (see the module docstring)."""
    from entrepot.cli.exitcodes import ExitCode, exit_code_for

    if isinstance(exc, BrokenPipeError):
        return code or int(ExitCode.FAILED)
    try:
        sys.stderr.write(f"error: the output could not be written: {exc.strerror or exc}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nowhere left to tell it: the exit code does
    return int(exit_code_for(exc))


def _threads_running() -> bool:
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def _flushed(code: int) -> int:
    """Flush standard output, then error; the exit code to end with."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except OSError as exc:
            if not code:  # a failed command told its own error, the output's included
                code = output_failed(exc, code)
        except ValueError:
            pass  # closed by the command: nothing buffered
    return code
