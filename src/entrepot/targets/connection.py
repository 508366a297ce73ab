"""The connection guard every target shares: connect, deadlines, errors, reconnect.

:class:`Connection` holds what a target is before it moves any file: its
URL and settings (:mod:`entrepot.targets.options`), how it is shown (the
password masked), and :meth:`Connection._call`, which runs every primitive

* on an open connection (opened on first use, kept for the next calls);
* under a deadline (:mod:`entrepot.targets.deadline`): a call that makes no
  progress for ``timeout`` seconds — a reply not complete, less than 64 KiB
  of data moved — is cut off through the backend's ``_abort`` hook and fails
  with :class:`~entrepot.errors.TargetTimeout`;
* with the backend's exceptions translated into :mod:`entrepot.errors`
  (``_translate``), the URL masked, the host, port and path attached;
* once more on a fresh connection when a kept connection turns out dead.

After a transient failure or an interruption the connection's state is
unknown, so it is closed; the next call opens a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

from entrepot.errors import (
    ConfigError,
    ConnectionFailed,
    RemoteNotFound,
    TargetError,
    TargetTimeout,
)
from entrepot.logs import log_event
from entrepot.targets.deadline import WATCHDOG, Watch
from entrepot.targets.options import resolve_options
from entrepot.targets.transfer import Progress
from entrepot.targets.url import TargetURL

__all__ = ["Connection"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


class Connection:
    """A target's URL, settings and connection; see the module docstring."""

    scheme: ClassVar[str] = ""
    #: Options a backend accepts (name → type), beyond the common ones.
    option_types: ClassVar[dict[str, type]] = {}

    def __init__(self, url: TargetURL, **options: Any) -> None:
        resolved = resolve_options(url, options, self.option_types)
        self.target_url = url
        self.timeout = resolved.timeout
        self.reconnect = resolved.reconnect
        self.password = resolved.password
        self.options: dict[str, Any] = resolved.extra
        self._connected = False
        #: Connections made so far: tells whether a call had to reconnect.
        self._connections = 0
        #: Folders known to exist, for this connection's life.
        self._folders: set[str] = set()
        self._watch: Watch | None = None

    # -- hooks a backend implements --------------------------------------------------

    def _connect(self) -> None:
        """Open the connection (and check the target folder exists)."""

    def _disconnect(self) -> None:
        """Close the connection; may be called on a broken one."""

    def _abort(self) -> None:
        """Make a call blocked on the network fail now (called from another thread).

        Network backends hang up the sockets of the call in progress,
        including one still being set up by ``_connect``.
        """

    def _translate(self, exc: Exception, path: str) -> TargetError:
        """Turn a backend exception into our error tree (backends extend this)."""
        if isinstance(exc, TimeoutError):
            return self._error(TargetTimeout, f"timed out after {self.timeout:g} s", path)
        if isinstance(exc, ConnectionError | EOFError):
            # An EOFError says nothing: the peer hung up where a reply was due.
            reason = str(exc) or "the server closed the connection"
            return self._error(ConnectionFailed, f"connection failed: {reason}", path)
        if isinstance(exc, FileNotFoundError):
            return self._error(RemoteNotFound, None, path)
        if isinstance(exc, OSError):
            return self._error(
                ConnectionFailed, f"{type(exc).__name__}: {exc.strerror or exc}", path
            )
        return self._error(TargetError, f"{type(exc).__name__}: {exc}", path)

    # -- identity ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL to show: the password masked."""
        return self.target_url.display

    @property
    def host(self) -> str | None:
        return self.target_url.host or None

    @property
    def port(self) -> int | None:
        return self.target_url.port

    def remote_path(self, path: str) -> str:
        """The full remote path of ``path`` (for messages)."""
        root = self.target_url.path
        return f"{root.rstrip('/')}/{path}" if path else (root or "/")

    def _error(self, cls: type[TargetError], message: str | None, path: str) -> TargetError:
        where = self.remote_path(path)
        return cls(message, url=self.url, host=self.host, port=self.port, path=where)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    # -- connection ----------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection now (otherwise the first call opens it)."""
        self._ensure_connected()

    def close(self) -> None:
        """Close the connection; the target reconnects if used again."""
        if not self._connected:
            return
        self._connected = False
        self._folders.clear()
        # A peer that drips its goodbye must not hold the close either.
        watch = WATCHDOG.watch(self.timeout, self._abort_quietly)
        try:
            self._disconnect()
        except Exception as exc:  # noqa: BLE001 - closing a broken connection may fail
            log_event(logger, "targets.close_failed", logging.DEBUG, url=self.url, error=exc)
        finally:
            watch.cancel()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ensure_connected(self) -> bool:
        if self._connected:
            return False
        self._guard("", self._connect)
        self._connected = True
        self._connections += 1
        log_event(logger, "targets.connected", logging.DEBUG, url=self.url)
        if self.options.get("verify_tls") is False and self._connections == 1:
            log_event(
                logger,
                "targets.tls_unverified",
                logging.WARNING,
                url=self.url,
                risk="verify_tls=false: the server's certificate is not checked, so anyone "
                "on the network path can pose as the server and read or change the "
                "transfer, password included",
            )
        return True

    def _guard(self, path: str, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn`` under a deadline, translating its errors."""
        watch = WATCHDOG.watch(self.timeout, self._abort_quietly)
        self._watch = watch
        try:
            result = fn(*args)
            if watch.expired:
                # Hung up half-way, yet it returned: what it read may be cut short.
                raise self._stalled(path)
            return result
        except TargetError as exc:
            if watch.expired:
                self.close()
                raise self._stalled(path) from exc
            if exc.transient:
                self.close()
            raise
        except ConfigError:
            raise  # the configuration's mistake, found on the way: told as that (exit 3)
        except Exception as exc:
            error = self._stalled(path) if watch.expired else self._translate(exc, path)
            if error.transient:
                # The connection's state is unknown after a timeout or a drop.
                self.close()
            raise error from exc
        except BaseException:
            # Interrupted half-way (Ctrl-C, SIGTERM): the same holds.
            self.close()
            raise
        finally:
            watch.cancel()
            self._watch = None

    def _call(self, path: str, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a primitive, reconnecting once if a reused connection was dead."""
        fresh = self._ensure_connected()
        try:
            return self._guard(path, fn, *args)
        except ConnectionFailed:
            if fresh or not self.reconnect:
                raise
            step = getattr(fn, "__name__", "").lstrip("_")
            log_event(logger, "targets.reconnecting", logging.INFO, url=self.url, step=step)
            self._ensure_connected()
            return self._guard(path, fn, *args)

    # -- deadlines -----------------------------------------------------------------

    def _progressed(self, n: int) -> None:
        """The call in progress moved ``n`` bytes (any thread may say so): see
        :meth:`~entrepot.targets.deadline.Watch.progressed`."""
        watch = self._watch
        if watch is not None:
            watch.progressed(n)

    def _answered(self) -> None:
        """A reply of the call in progress is complete (a page of a listing of many):
        the deadline starts again, bounding each reply rather than the whole call."""
        watch = self._watch
        if watch is not None:
            watch.renew()

    def _progress(self, progress: Progress | None) -> Progress:
        """A progress callback for a primitive that also keeps its deadline alive."""

        def moved(n: int) -> None:
            self._progressed(n)
            if progress is not None:
                progress(n)

        return moved

    def _stalled(self, path: str) -> TargetError:
        message = (
            f"no progress for {self.timeout:g} s: the server stopped answering "
            "or is too slow (see the timeout option)"
        )
        return self._error(TargetTimeout, message, path)

    def _abort_quietly(self) -> None:
        log_event(logger, "targets.call_aborted", logging.INFO, url=self.url, timeout=self.timeout)
        self._abort()
