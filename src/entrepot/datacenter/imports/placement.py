"""Where the files of a processed import go.

After a source file ``x.csv`` was imported in mode ``create``:

* its imported rows are appended to ``finished/x.create.finished.csv``;
* when every row succeeded, ``x.csv`` moves to ``finished/``;
* otherwise it moves to ``unfinished/`` and the failed rows wait in the
  root as ``x.create.pending.csv``.

Importing that pending file later is recognised as continuing ``x.csv``
(its original is in ``unfinished/``): a new pending file replaces the old
one, and once nothing is left pending the original moves from
``unfinished/`` to ``finished/`` and the pending file disappears — the same
end state as a first import that went well.

Each step below can be repeated safely after an interruption: it either
finds its work already done on disk or does it again completely.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from entrepot.datacenter.csvfiles import build_merged, publish_merged
from entrepot.datacenter.storage import StorageTree, move_file
from entrepot.errors import ImportFailed
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

PENDING_SUFFIX = ".pending.csv"
FINISHED_SUFFIX = ".finished.csv"


def check_free(tree: StorageTree, name: str, mode: str) -> None:
    """Refuse to begin importing ``name`` afresh where its result files are taken.

    ``x.csv`` and ``x.csv.gz`` share their result files, and a file of a
    name imported before shares them with that import: while the rows an
    earlier import left pending wait, or its source waits in
    ``unfinished/``, a new import would take that place and lose them.
    """
    stem = stem_of(name)
    pending = tree.root / f"{stem}.{mode}{PENDING_SUFFIX}"
    if pending.exists():
        raise ImportFailed(
            f"{name}: {pending.name} holds the rows an earlier import of {stem} left pending,"
            f" and would be replaced: import or remove it first, or rename {name}"
        )
    for other in (f"{stem}.csv", f"{stem}.csv.gz"):
        if (tree.unfinished / other).exists():
            raise ImportFailed(
                f"{name}: unfinished/{other} waits for its pending rows, and shares its result"
                f" files with {name}: finish that import first, or rename {name}"
            )


def stem_of(name: str) -> str:
    """``x.csv`` → ``x``; ``x.csv.gz`` → ``x``; other names lose their last suffix."""
    lower = name.lower()
    for ext in (".csv.gz", ".csv"):
        if lower.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return os.path.splitext(name)[0]


@dataclass(frozen=True)
class Placement:
    """Where one processed source and its result files belong."""

    source: Path
    #: The name of the original upload (differs from ``source`` for pending files).
    original_name: str
    #: True when ``source`` is a pending file whose original waits in ``unfinished/``.
    from_pending: bool
    finished_rows: Path
    pending_dest: Path


def original_of_pending(tree: StorageTree, name: str) -> str | None:
    """The original upload a pending file continues, if it waits in ``unfinished/``."""
    if not name.endswith(PENDING_SUFFIX):
        return None
    parts = name.rsplit(".", 3)
    if len(parts) != 4:
        return None
    for ext in (".csv", ".csv.gz"):
        candidate = parts[0] + ext
        if (tree.unfinished / candidate).is_file():
            return candidate
    return None


def place(tree: StorageTree, source: Path, mode: str) -> Placement:
    """Work out the destinations for ``source`` processed in ``mode``."""
    original = original_of_pending(tree, source.name)
    from_pending = original is not None
    original_name = original if original is not None else source.name
    stem = stem_of(original_name)
    pending_name = source.name if from_pending else f"{stem}.{mode}{PENDING_SUFFIX}"
    return Placement(
        source=source,
        original_name=original_name,
        from_pending=from_pending,
        finished_rows=tree.finished / f"{stem}.{mode}{FINISHED_SUFFIX}",
        pending_dest=tree.root / pending_name,
    )


def placement_of(
    tree: StorageTree, source: Path, original_name: str, from_pending: bool, mode: str
) -> Placement:
    """:func:`place` for an import that knows its original (recorded when it began)."""
    original = original_name if from_pending else source.name
    base = place(tree, tree.root / original, mode)
    return Placement(
        source=source,
        original_name=original,
        from_pending=from_pending,
        finished_rows=base.finished_rows,
        pending_dest=source if from_pending else base.pending_dest,
    )


def merge_finished_rows(placement: Placement, finished_file: Path) -> Path | None:
    """Prepare the finished-rows file: return a temporary merged file, or None.

    None means there is nothing to merge with yet, and ``finished_file`` can
    simply be moved into place.
    """
    if not placement.finished_rows.exists():
        return None
    return build_merged(placement.finished_rows, finished_file)


def store_finished_rows(placement: Placement, finished_file: Path, merged: Path | None) -> None:
    if merged is None:
        move_file(finished_file, placement.finished_rows)
        return
    publish_merged(merged, placement.finished_rows)
    finished_file.unlink(missing_ok=True)


def store_pending_rows(placement: Placement, pending_file: Path | None) -> None:
    """Put the new pending file in the root (replacing the one just processed).

    Any other file of that name is kept: :class:`ImportFailed`, the import
    waits until it is moved away (:func:`check_free` tells it before rows go in).
    """
    if pending_file is None or not pending_file.exists():
        return
    try:
        move_file(pending_file, placement.pending_dest, replace=placement.from_pending)
    except FileExistsError:
        raise ImportFailed(
            f"{placement.pending_dest.name} is in the data center already and holds other rows:"
            " move it away, then run the import again to write its pending rows"
        ) from None


def store_source(tree: StorageTree, placement: Placement, successful: bool) -> None:
    """Move the source (or its original) to ``finished/`` or ``unfinished/``."""
    source = placement.source
    if placement.from_pending:
        if not successful:
            # The new pending file has already replaced the source.
            return
        original = tree.unfinished / placement.original_name
        if original.exists():
            move_file(original, tree.finished / placement.original_name)
        if source.exists():
            source.unlink()
        return
    if source.exists():
        folder = tree.finished if successful else tree.unfinished
        move_file(source, folder / source.name)


def distribute(
    tree: StorageTree,
    successful: bool,
    source: Path,
    finished_file: Path,
    pending_file: Path | None,
    mode: str = "create",
) -> Placement:
    """Put a processed source and its result files in their final places."""
    placement = place(tree, source, mode)
    merged = merge_finished_rows(placement, finished_file)
    store_finished_rows(placement, finished_file, merged)
    store_pending_rows(placement, pending_file)
    store_source(tree, placement, successful)
    log_event(
        logger,
        "datacenter.distributed",
        source=source.name,
        mode=mode,
        successful=successful,
        pending=placement.from_pending,
    )
    return placement
