"""shoebox's roll managers, roll checkers and archive callbacks, over :mod:`entrepot.archive`.

Code written for shoebox keeps working with one changed import::

    from entrepot.compat.shoebox import roll_checker, roll_manager

    checker = roll_checker.SizeRollChecker(roll_size_mb=100)
    x = roll_manager.WritingRollManager("test_%c.events", checker)
    x.write({"index": "0"}, "payload_0")
    x.close()

What changes underneath: new archives are written in format 2 (framed and
checksummed, see ``docs/archive-format.md``), under a ``.open`` name until
they are closed; old format-1 files are still read.  Checkers and callbacks
take keyword arguments, as before, so they can be named in configuration.
A failing callback is logged and does not stop the others.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from entrepot.archive import ArchiveSet, NoMoreFiles, RollingWriter
from entrepot.archive.naming import Template
from entrepot.archive.policies import ArchiveState
from entrepot.compat.shoebox_callbacks import (
    ArchiveCallback,
    CallbackList,
    ChangeExtensionCallback,
    DeleteFileCallback,
    MoveFileCallback,
    UploadCallback,
)
from entrepot.compat.shoebox_checkers import (
    NeverRollChecker,
    RollChecker,
    SizeRollChecker,
    TimeRollChecker,
)

__all__ = [
    "ArchiveCallback",
    "CallbackList",
    "ChangeExtensionCallback",
    "DeleteFileCallback",
    "MoveFileCallback",
    "NeverRollChecker",
    "NoMoreFiles",
    "ReadingRollManager",
    "RollChecker",
    "SizeRollChecker",
    "TimeRollChecker",
    "UploadCallback",
    "WritingRollManager",
    "roll_checker",
    "roll_manager",
]

# -- roll checkers ---------------------------------------------------------------


class _CheckerPolicy:
    """Runs a shoebox checker as an entrepot roll policy, calling ``start`` per archive."""

    def __init__(self, checker: RollChecker) -> None:
        self.checker = checker
        self._current: object | None = None

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        if state is not self._current:
            self._current = state
            self.checker.start(state)
        return bool(self.checker.check(state))


# -- roll managers -------------------------------------------------------------------


class _RollManager:
    """What both roll managers keep: the template, the folder and the callback."""

    def __init__(
        self, filename_template: str, directory: str, archive_callback: ArchiveCallback | None
    ) -> None:
        self.filename_template = filename_template
        self.directory = directory
        self.archive_callback = archive_callback

    def _hooks(self) -> tuple[Any, Any]:
        """The callback's ``on_open`` and ``on_close`` as hooks taking a path (or None)."""
        callback = self.archive_callback
        if callback is None:
            return None, None
        return (lambda path: callback.on_open(str(path))), (
            lambda path: callback.on_close(str(path))
        )


_UNSAFE_OR_FIELD = re.compile(r"(\{(?:host|seq|uuid)(?::[^{}]*)?\})|[ /:]")


class _ShoeboxTemplate(Template):
    """A name template as shoebox rendered it: in the name strftime makes, a space,
    ``/`` or ``:`` becomes ``_`` (``test_%c.events`` → ``test_Mon_Dec__7_17_59_52_2026.events``)."""

    def render(self, seq: int, when: float | None = None) -> str:
        stamp = time.gmtime(when if when is not None else time.time())
        # Fields ({seq:03d}) are kept as they are: only the rest is shoebox's name.
        text = _UNSAFE_OR_FIELD.sub(
            lambda match: match.group(1) or "_", time.strftime(self.template, stamp)
        )
        # The time is in the text now: its '%' are characters, no more strftime codes.
        return Template(text.replace("%", "%%"), host=self.host).render(seq, when)


def _escaped(template: str) -> str:
    """``template`` with its strftime codes made literal: it renders to a name whatever
    the time, and its glob (the names the writer recovers and counts) is the same."""
    return template.replace("%", "%%")


class WritingRollManager(_RollManager):
    """Write events to archives named by ``filename_template`` in ``directory``.

    The template takes strftime fields (times in UTC) and also ``{host}``,
    ``{seq}`` and ``{uuid}``; as in shoebox, a space, ``/`` or ``:`` in the
    name becomes ``_`` (so ``%c`` and ``%D`` make usable names).  Two files
    rolled in the same second get distinct names (``name-1.ext``).
    """

    def __init__(
        self,
        filename_template: str,
        roll_checker: RollChecker,
        directory: str = ".",
        archive_callback: ArchiveCallback | None = None,
    ) -> None:
        super().__init__(filename_template, directory, archive_callback)
        self.roll_checker = roll_checker
        self._template = _ShoeboxTemplate(filename_template)  # checked before any folder is made
        self._closed_before: list[Path] = []
        self._writer = self._new_writer()

    def _new_writer(self) -> RollingWriter:
        opened, closed = self._hooks()
        writer = RollingWriter(
            self.directory,
            _escaped(self.filename_template),
            policy=_CheckerPolicy(self.roll_checker),
            on_open=[opened] if opened else [],
            on_close=[closed] if closed else [],
        )
        writer.template = self._template
        return writer

    def write(self, metadata: dict[str, str], payload: Any) -> None:
        """Append one event: a str → str dict and a payload (str, bytes or JSON value)."""
        if self._writer.closed:
            # shoebox's close() ended the current archive, not the manager: the next
            # write opened a new archive.  A new writer does that here ({seq} goes on).
            self._closed_before.extend(self._writer.finished)
            self._writer = self._new_writer()
        self._writer.write(metadata, payload)

    def close(self) -> None:
        """Close (seal) the current archive; a later :meth:`write` starts a new one."""
        self._writer.close()

    @property
    def finished(self) -> list[Path]:
        """The archives closed so far."""
        return [*self._closed_before, *self._writer.finished]


class ReadingRollManager(_RollManager):
    """Read every archive matching ``filename_template`` (a glob) in ``directory``.

    Files are read in the order of their names, as shoebox sorted them; the
    variants this package gives a name already taken (``name-1.ext``,
    ``name-2.ext``, …, see :class:`WritingRollManager`) come right after
    ``name.ext``, in the order they were written.
    """

    def __init__(
        self,
        filename_template: str,
        directory: str = ".",
        archive_callback: ArchiveCallback | None = None,
    ) -> None:
        super().__init__(filename_template, directory, archive_callback)
        opened, closed = self._hooks()
        self._archives = ArchiveSet(
            os.path.join(directory, filename_template), on_open=opened, on_close=closed
        )
        self._archives.paths = _by_name(self._archives.paths)

    @property
    def files(self) -> list[Path]:
        """The archive files, in the order they are read."""
        return list(self._archives.paths)

    def read(self) -> tuple[dict[str, str], Any]:
        """The next ``(metadata, payload)``; raise :class:`NoMoreFiles` after the last."""
        record = self._archives.read()
        return record.metadata, _as_text(record.payload)

    def close(self) -> None:
        self._archives.close()


_VARIANT = re.compile(r"(?P<stem>.+)-(?P<number>[1-9][0-9]*)(?P<ext>\.[^./]*)?")


def _by_name(paths: list[Path]) -> list[Path]:
    """``paths`` sorted by name, as shoebox read them, each ``name-N.ext`` made because
    ``name.ext`` was taken put right after it, by ``N`` (so ``-10`` after ``-9``)."""
    present = {os.fspath(path) for path in paths}

    def key(path: Path) -> tuple[str, int]:
        text = os.fspath(path)
        variant = _VARIANT.fullmatch(text)
        if variant is not None:
            base = variant["stem"] + (variant["ext"] or "")
            if base in present:
                return base, int(variant["number"])
        return text, 0

    return sorted(paths, key=key)


def _as_text(payload: Any) -> Any:
    """Payloads come back as strings, as shoebox gave them (bytes that are not UTF-8 stay bytes)."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, bytes):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload
    return json.dumps(payload)


#: The old module names, so ``roll_checker.SizeRollChecker(...)`` reads as before.
roll_checker = SimpleNamespace(
    RollChecker=RollChecker,
    NeverRollChecker=NeverRollChecker,
    SizeRollChecker=SizeRollChecker,
    TimeRollChecker=TimeRollChecker,
)
roll_manager = SimpleNamespace(
    WritingRollManager=WritingRollManager,
    ReadingRollManager=ReadingRollManager,
    NoMoreFiles=NoMoreFiles,
)
