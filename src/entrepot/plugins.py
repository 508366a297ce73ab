"""One way to find a plug-in by name: targets, job kinds, roll policies.

A :class:`PluginRegistry` looks a name up in three places, in order:

1. what was registered in this process (:meth:`PluginRegistry.register`);
2. Entrepôt's own built-ins, given as ``"module:attribute"`` and imported on
   first use, so a command that never opens an SFTP URL never imports
   paramiko;
3. the package entry-point group (``[project.entry-points."entrepot.targets"]``
   and the like), for third-party packages.

A built-in whose module cannot be imported raises
:class:`~entrepot.errors.BackendUnavailable` with the ``pip install`` line of
the extra that brings it; an unknown name lists the known ones.  Registering
a second, different plug-in under a taken name is refused unless
``replace=True``.

>>> registry = PluginRegistry("codec", "example.codecs", {"upper": "builtins:str.upper"})
>>> registry.load("upper")("abc")
'ABC'
>>> registry.load("lower")
Traceback (most recent call last):
...
entrepot.errors.ConfigError: unknown codec 'lower' (known: upper)
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from entrepot.errors import BackendUnavailable, ConfigError, EntrepotError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoints

__all__ = ["PluginRegistry", "load_reference"]

T = TypeVar("T")


def entry_points(group: str) -> EntryPoints:
    """The installed entry points of ``group``."""
    # importlib.metadata takes longer to import than a short command takes to
    # run, and built-ins are found without it.
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def load_reference(reference: str) -> Any:
    """The object named by ``"package.module:attribute.path"``."""
    module_name, _, attribute = reference.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        value = getattr(value, part)
    return value


class PluginRegistry(Generic[T]):
    """Plug-ins of one kind, found by name, imported lazily.

    ``what`` names the kind in messages ("target scheme", "job kind");
    ``check`` validates (and may convert) what a name resolves to, raising
    :class:`TypeError` when it is not the right kind of object; ``error`` is
    the exception class for unknown names and ``hint`` is appended to that
    message.
    """

    def __init__(
        self,
        what: str,
        group: str,
        builtins: Mapping[str, str],
        *,
        extras: Mapping[str, str] | None = None,
        check: Callable[[Any], T] | None = None,
        error: type[EntrepotError] = ConfigError,
        hint: str = "",
        name_pattern: str | None = None,
        fold_case: bool = False,
    ) -> None:
        self.what = what
        self.group = group
        self._builtins = dict(builtins)
        self._extras = dict(extras or {})
        self._check = check
        self._error = error
        self._hint = hint
        self._pattern = re.compile(name_pattern) if name_pattern else None
        self._fold = fold_case
        self._registered: dict[str, T | str] = {}
        self._lock = threading.Lock()

    def _key(self, name: str) -> str:
        return name.lower() if self._fold else name

    def register(self, name: str, plugin: T | str, *, replace: bool = False) -> None:
        """Serve ``name`` with ``plugin`` (the object, or ``"module:attribute"``).

        Registering the same plug-in again is harmless; a different one under
        a taken name is an error unless ``replace`` is true.
        """
        key = self._key(name)
        if self._pattern is not None and not self._pattern.fullmatch(key):
            raise ValueError(f"{self.what} {name!r} is not a valid name")
        with self._lock:
            known = self._registered.get(key)
            if known is not None and known != plugin and not replace:
                raise self._error(f"{self.what} {name!r} is already registered")
            self._registered[key] = plugin

    def unregister(self, name: str) -> None:
        """Forget what was registered as ``name`` (built-ins stay)."""
        key = self._key(name)
        with self._lock:
            self._registered.pop(key, None)

    def names(self) -> list[str]:
        """Every name that can be loaded, plug-ins included, sorted."""
        with self._lock:
            found = set(self._registered) | set(self._builtins)
        found.update(self._key(ep.name) for ep in entry_points(group=self.group))
        return sorted(found)

    def load(self, name: str) -> T:
        """The plug-in called ``name``, importing its module on first use.

        Nothing is cached here beyond Python's own module cache, so a module
        that fails to import is tried again next time (and tests can hide one).
        """
        key = self._key(name)
        with self._lock:
            spec: T | str | None = self._registered.get(key)
        if spec is None:
            spec = self._builtins.get(key)
        if spec is None:
            for entry in entry_points(group=self.group):
                if self._key(entry.name) == key:
                    spec = entry.value
                    break
        if spec is None:
            message = f"unknown {self.what} {name!r} (known: {', '.join(self.names())})"
            raise self._error(f"{message}; {self._hint}" if self._hint else message)
        return self._resolve(key, spec)

    def _resolve(self, key: str, spec: T | str) -> T:
        value: Any = spec
        if isinstance(spec, str):
            try:
                value = load_reference(spec)
            except ImportError as exc:
                extra = self._extras.get(key)
                fix = (
                    f"pip install 'entrepot[{extra}]'"
                    if extra
                    else f"install the package that provides {spec.partition(':')[0]}"
                )
                missing = exc.name or "a missing module"
                raise BackendUnavailable(f"the {self.what} {key!r} needs {missing}: {fix}") from exc
            except AttributeError as exc:
                raise ConfigError(f"{self.what} {key!r}: {spec} does not exist") from exc
        if self._check is None:
            return value  # type: ignore[no-any-return]
        try:
            return self._check(value)
        except TypeError as exc:
            raise ConfigError(f"{self.what} {key!r}: {exc}") from exc
