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

import errno
import importlib
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from entrepot import durable
from entrepot.archive import ArchiveSet, NoMoreFiles, RollingWriter
from entrepot.archive.naming import Template
from entrepot.archive.policies import ArchiveState
from entrepot.compat.shoebox_checkers import (
    NeverRollChecker,
    RollChecker,
    SizeRollChecker,
    TimeRollChecker,
)
from entrepot.errors import ConfigError
from entrepot.logs import log_event
from entrepot.names import check_name

logger = logging.getLogger(__name__)

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


# -- callbacks ---------------------------------------------------------------------


class ArchiveCallback:
    """Told when archive files are opened and closed.

    ``on_close`` returns where the file is afterwards, so a callback that
    moves or renames it tells the next one in a :class:`CallbackList`.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.options = kwargs

    def on_open(self, filename: str) -> None:
        """An archive file was opened."""

    def on_close(self, filename: str) -> str | None:
        """An archive file was closed; return its (possibly new) path."""
        return filename


def _load(spec: str) -> Any:
    """``pkg.mod:Name`` or ``pkg.mod.Name`` → the object."""
    module, sep, name = spec.partition(":")
    if not sep:
        module, _, name = spec.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot load callback {spec!r}: {exc}") from exc


class CallbackList(ArchiveCallback):
    """Several callbacks, named in ``callback_list`` ("pkg.mod:Class, …") or given as objects.

    Every callback is built with the same keyword arguments.  On close the
    file name is passed along the chain; a callback that fails is logged and
    the next one gets the name as it was.
    """

    def __init__(
        self, callback_list: str = "", callbacks: list[ArchiveCallback] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        names = [item.strip() for item in callback_list.split(",") if item.strip()]
        self.callbacks: list[ArchiveCallback] = [_load(name)(**kwargs) for name in names]
        self.callbacks.extend(callbacks or [])

    def on_open(self, filename: str) -> None:
        for callback in self.callbacks:
            _guarded(callback.on_open, filename)

    def on_close(self, filename: str) -> str | None:
        current: str | None = filename
        for callback in self.callbacks:
            if current is None:
                break
            try:
                current = callback.on_close(current)
            except Exception as exc:  # noqa: BLE001 - one callback must not stop the others
                _log_failure(callback.on_close, current, exc)
        return current


class _MovingCallback(ArchiveCallback):
    """Moves the closed file to :meth:`target`, never over an existing file."""

    def target(self, filename: str) -> str:
        raise NotImplementedError

    def on_close(self, filename: str) -> str:
        target = self.target(filename)
        check_name(os.path.basename(target), what="new file name")
        if os.path.lexists(target):
            raise FileExistsError(f"{target} already exists")
        try:
            durable.rename_noreplace(filename, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.move(filename, target)  # another file system: copy, then remove
        return target


class ChangeExtensionCallback(_MovingCallback):
    """Rename ``name`` to ``name`` + ``new_extension`` (default ``.done``) on close."""

    def __init__(self, new_extension: str = ".done", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.new_extension = new_extension

    def target(self, filename: str) -> str:
        return filename + self.new_extension


class MoveFileCallback(_MovingCallback):
    """Move the closed file into ``destination_folder`` (never over an existing file)."""

    def __init__(self, destination_folder: str = ".", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destination_folder = destination_folder

    def target(self, filename: str) -> str:
        return os.path.join(self.destination_folder, os.path.basename(filename))


class DeleteFileCallback(ArchiveCallback):
    """Delete the closed file (after the callbacks before it have shipped it)."""

    def on_close(self, filename: str) -> None:
        os.remove(filename)


class UploadCallback(ArchiveCallback):
    """Upload the closed file to an Entrepôt target URL (``file://``, ``sftp://``, ``s3://``, …).

    ``url`` (or ``target_url``) names the target; other ``target_*`` keywords
    are passed to :func:`entrepot.targets.open_target` as options.  The
    remote name is the file's own name.  The local file is left in place.
    """

    def __init__(self, url: str | None = None, target_url: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.url = url or target_url
        if not self.url:
            raise ConfigError("UploadCallback needs url= (an entrepot target URL)")
        self.target_options = {
            key.removeprefix("target_"): value
            for key, value in kwargs.items()
            if key.startswith("target_")
        }

    def on_close(self, filename: str) -> str:
        from entrepot.targets import open_target

        assert self.url is not None
        with open_target(self.url, **self.target_options) as target:
            target.upload(filename, os.path.basename(filename))
        log_event(logger, "archive.uploaded", path=filename)
        return filename


def _guarded(method: Any, filename: str) -> None:
    try:
        method(filename)
    except Exception as exc:  # noqa: BLE001 - one callback must not stop the others
        _log_failure(method, filename, exc)


def _log_failure(method: Any, filename: str | None, exc: Exception) -> None:
    log_event(
        logger, "archive.hook_failed", logging.ERROR,
        hook=getattr(method, "__qualname__", repr(method)), path=filename,
        error=f"{type(exc).__name__}: {exc}",
    )  # fmt: skip


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
        opened, closed = self._hooks()
        template = _ShoeboxTemplate(filename_template)
        self._writer = RollingWriter(
            directory,
            _escaped(filename_template),
            policy=_CheckerPolicy(roll_checker),
            on_open=[opened] if opened else [],
            on_close=[closed] if closed else [],
        )
        self._writer.template = template

    def write(self, metadata: dict[str, str], payload: Any) -> None:
        """Append one event: a str → str dict and a payload (str, bytes or JSON value)."""
        self._writer.write(metadata, payload)

    def close(self) -> None:
        """Close (seal) the current archive."""
        self._writer.close()

    @property
    def finished(self) -> list[Path]:
        """The archives closed so far."""
        return list(self._writer.finished)


class ReadingRollManager(_RollManager):
    """Read every archive matching ``filename_template`` (a glob) in ``directory``, oldest first."""

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
