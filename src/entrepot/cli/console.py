"""Shared terminal output: one console for results, one for messages.

Results (tables, JSON) go to standard output; progress bars, warnings and
errors go to standard error so that output stays pipeable.  ``-q`` silences
every result but JSON that was asked for, so a cron job mails only errors.

Every string that came from outside — a file name, a remote listing, an
error message quoting either — is printed through :func:`shown` (or
:func:`print_error`): control characters become visible escapes and rich
markup is printed literally, so ``in[reverse]voice.csv`` shows as written and
a ``[/]`` in a path cannot crash the command.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from entrepot.redact import mask_secrets, printable

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

T = TypeVar("T")


def shown(text: object) -> str:
    """``text`` safe to print with rich: control characters escaped, markup literal."""
    return escape(printable(str(text)))


def print_error(message: object, *, label: str = "error") -> None:
    """``error: <message>`` on stderr, secrets masked and the text escaped."""
    err.print(f"[bold red]{label}:[/] {shown(mask_secrets(str(message)))}", soft_wrap=True)


def set_quiet(quiet: bool) -> None:
    """With ``quiet``, results other than requested JSON are not printed."""
    out.quiet = quiet


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (even with ``-q``: it was asked for)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str, indent=2) + "\n")
    sys.stdout.flush()


#: Below this many items a progress bar is more noise than help.
PROGRESS_THRESHOLD = 20


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A rich table; numeric-looking columns are right-aligned; every cell is :func:`shown`."""
    result = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        right = column.lower() in {"size", "bytes", "count", "files", "rows", "attempts", "items"}
        result.add_column(column, justify="right" if right else "left")
    for row in rows:
        result.add_row(*(shown(cell) for cell in row))
    return result


def progress(items: Sequence[T], description: str) -> Iterator[T]:
    """Yield ``items``, drawing a progress bar on stderr when there are many."""
    if len(items) < PROGRESS_THRESHOLD or not err.is_terminal:
        yield from items
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def human_size(size: float) -> str:
    """``1536`` → ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_age(mtime: float, now: float | None = None) -> str:
    """Seconds since ``mtime`` as ``42s``, ``5m``, ``3h`` or ``2d``."""
    seconds = max(0.0, (time.time() if now is None else now) - mtime)
    for limit, divisor, unit in ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h")):
        if seconds < limit:
            return f"{int(seconds // divisor)}{unit}"
    return f"{int(seconds // 86400)}d"
