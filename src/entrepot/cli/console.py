"""Shared terminal output: one console for results, one for messages.

Results (tables, JSON) go to standard output; progress bars, warnings and
errors go to standard error so that output stays pipeable.  ``-q`` silences
every result but JSON that was asked for, so a cron job mails only errors.

Every string that came from outside — a file name, a remote listing, an
error message quoting either — is printed through :func:`shown` (or
:func:`print_error`, :func:`say`): control characters become visible escapes
and rich markup is printed literally, so ``in[reverse]voice.csv`` shows as
written and a ``[/]`` in a path cannot crash the command.

Importing rich takes longer than some whole commands, so the two rich
consoles :data:`out` and :data:`err` are made on first use, and commands
that print plain lines (``spool put``, ``ship`` with nothing waiting) use
:func:`say`, which needs no rich at all.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from entrepot.redact import mask_secrets, printable
from entrepot.units import format_size

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: Results, on stdout (made on first use, see :func:`__getattr__`).
out: Console
#: Messages, progress bars and errors, on stderr (made on first use).
err: Console

T = TypeVar("T")

_quiet = False
_made = threading.Lock()


def _console(name: str) -> Console:
    """The rich console ``out`` or ``err``, made the first time it is asked for."""
    with _made:
        console = globals().get(name)
        if console is None:
            from rich.console import Console

            if name == "out":
                console = Console(highlight=False, soft_wrap=True, quiet=_quiet)
            else:
                console = Console(stderr=True, highlight=False)
            globals()[name] = console
    return console


def __getattr__(name: str) -> Any:
    # ``from entrepot.cli.console import out`` makes the console then, not at import.
    if name in ("out", "err"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def shown(text: object) -> str:
    """``text`` safe to print with rich: control characters escaped, markup literal."""
    from rich.markup import escape

    return escape(printable(str(text)))


def say(text: object) -> None:
    """``text`` as one line on stdout, control characters escaped, unless ``-q``.

    Prints what ``out.print(shown(text))`` prints, without rich.
    """
    if not _quiet:
        sys.stdout.write(printable(str(text)) + "\n")
        sys.stdout.flush()


def print_error(message: object, *, label: str = "error") -> None:
    """``error: <message>`` on stderr, secrets masked and the text escaped.

    An error that lists its problems (a configuration's: ``problems``) gets a line for
    each — every line escaped on its own, so no text in them starts a line of its own.
    """
    problems = getattr(message, "problems", None)
    if isinstance(problems, list) and problems:
        lines = [shown(str(message).partition("\n")[0])]  # its heading, then a line each
        lines += [f"  {shown(mask_secrets(str(problem)))}" for problem in problems]
        _console("err").print(f"[bold red]{label}:[/] " + "\n".join(lines), soft_wrap=True)
        return
    text = shown(mask_secrets(str(message)))
    _console("err").print(f"[bold red]{label}:[/] {text}", soft_wrap=True)


def set_quiet(quiet: bool) -> None:
    """With ``quiet``, results other than requested JSON are not printed."""
    global _quiet
    _quiet = quiet
    console = globals().get("out")
    if console is not None:
        console.quiet = quiet


def is_quiet() -> bool:
    """True under ``-q``."""
    return _quiet


def stderr_is_terminal() -> bool:
    """Whether ``err`` writes to a terminal, as rich decides — without rich when it cannot."""
    forced = "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ
    try:
        if not forced and not sys.stderr.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    return _console("err").is_terminal


#: JSON leaves DEL and the C1 controls as they are, and a terminal may act on them; and
#: lone surrogates (a byte of a file name that was not UTF-8) cannot be written as UTF-8:
#: their escapes, which every JSON reader reads back as the same characters.
TERMINAL_SAFE = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), *range(0xD800, 0xE000))}


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (even with ``-q``: it was asked for)."""
    import json

    text = json.dumps(data, ensure_ascii=False, default=str, indent=2)
    sys.stdout.write((text if text.isascii() else text.translate(TERMINAL_SAFE)) + "\n")
    sys.stdout.flush()


#: Below this many items a progress bar is more noise than help.
PROGRESS_THRESHOLD = 20


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A rich table; numeric-looking columns are right-aligned; every cell is :func:`shown`."""
    from rich.table import Table

    result = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        right = column.lower() in {"size", "bytes", "count", "files", "rows", "attempts", "items"}
        result.add_column(column, justify="right" if right else "left")
    for row in rows:
        result.add_row(*(shown(cell) for cell in row))
    return result


def progress(items: Sequence[T], description: str) -> Iterator[T]:
    """Yield ``items``, drawing a progress bar on stderr when there are many."""
    if len(items) < PROGRESS_THRESHOLD or not stderr_is_terminal():
        yield from items
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_console("err"), transient=True) as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def transfer_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """An ``advance(bytes)`` callable (thread-safe) drawing a byte bar on stderr.

    Without a terminal nothing is drawn and rich's progress module is not
    even imported: a one-shot transfer from a script pays nothing for it.
    """
    if not stderr_is_terminal():
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn(description),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_console("err"), transient=True) as bar:
        task = bar.add_task(description, total=total)
        lock = threading.Lock()

        def advance(n: int) -> None:
            with lock:
                bar.advance(task, n)

        yield advance


#: ``1536`` → ``1.5 KiB`` (the one size format of the command and the dashboard).
human_size = format_size


def human_age(mtime: float, now: float | None = None) -> str:
    """Seconds since ``mtime`` as ``42s``, ``5m``, ``3h`` or ``2d``."""
    seconds = max(0.0, (time.time() if now is None else now) - mtime)
    for limit, divisor, unit in ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h")):
        if seconds < limit:
            return f"{int(seconds // divisor)}{unit}"
    return f"{int(seconds // 86400)}d"
