"""shoebox's archive callbacks, told when archive files are opened and closed.

Re-exported by :mod:`entrepot.compat.shoebox`.  As in shoebox, each takes
keyword arguments (so it can be named in configuration) and ``on_close``
returns where the file is afterwards; unlike shoebox, a callback of a
:class:`CallbackList` that fails is logged and does not stop the others,
and no callback moves a file over an existing one.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import shutil
from typing import Any

from entrepot import durable
from entrepot.errors import ConfigError
from entrepot.logs import log_event
from entrepot.names import check_name

logger = logging.getLogger("entrepot.compat.shoebox")

__all__ = [
    "ArchiveCallback",
    "CallbackList",
    "ChangeExtensionCallback",
    "DeleteFileCallback",
    "MoveFileCallback",
    "UploadCallback",
]


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
    """Rename ``name`` to ``name`` + ``new_extension`` (default ``.done``) on close.

    ``x.events`` becomes ``x.events.done``, as shoebox's docstring says; its code
    put a second dot in between (``x.events..done``), a slip not copied here.
    """

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
