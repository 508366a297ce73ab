"""boto3 clients for ``s3://`` targets: shared sessions, settings, and a way to hang up.

boto3 is imported only when a session is first asked for: a shipping run
whose requests all go the direct way (:mod:`entrepot.targets.s3_direct`)
never loads it.  Building a boto3 session reads the service model from
disk (slow), so one session is kept per set of credentials.
:func:`new_client` gives a client with the target's timeouts and retries; with an
``endpoint_url``, a redirect is that request's failure (:func:`refuse_redirect`).

:class:`Hangups` is how a call stalled inside boto3 is cut off when its
deadline passes (:mod:`entrepot.targets.deadline`): it records every
connection a client opens — through the connection-pool classes of the
client's HTTP session, the one place botocore lets them be chosen — and
shuts their sockets down on :meth:`Hangups.hang_up`.  Once hung up, it
refuses new connections, so botocore's own retries end at once too.

:func:`fast_put_refusal` says when the direct path
(:mod:`entrepot.targets.s3_direct`) must give way to boto3: whenever a proxy or
a CA bundle that only boto3 would honour is configured; :func:`boto3_needed`
when boto3 must at least be asked (its configuration may hold such settings).
"""

from __future__ import annotations

import io
import os
import threading
import urllib.request
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from entrepot.errors import ConfigError
from entrepot.targets.deadline import hang_up
from entrepot.targets.s3_errors import S3ErrorReply

if TYPE_CHECKING:
    import boto3

__all__ = [
    "Hangups",
    "Reporting",
    "boto3_needed",
    "fast_put_refusal",
    "new_client",
    "refuse_redirect",
    "session_credentials",
    "session_for",
]

_sessions: dict[tuple[str | None, ...], boto3.session.Session] = {}
_sessions_lock = threading.Lock()


def session_for(
    access_key: str | None, secret_key: str | None, token: str | None, profile: str | None
) -> boto3.session.Session:
    """The shared session for these credentials (None: boto3's usual sources).

    A secret without its key is refused (:class:`~entrepot.errors.ConfigError`):
    boto3 would fail later with a TypeError that names no cause.
    """
    import boto3

    if secret_key and not access_key:
        raise ConfigError(
            "S3 was given a secret (secret_key, password_env or password_file) without "
            "its access_key: give both, or neither to use the environment's or a profile's"
        )

    key = (access_key, secret_key, token, profile)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = boto3.session.Session(
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=token,
                profile_name=profile,
            )
            _sessions[key] = session
        return session


def session_credentials(
    session: boto3.session.Session,
) -> Callable[[], tuple[str, str, str | None]]:
    """The keys of ``session`` as the direct path asks for them, before each request."""

    def keys() -> tuple[str, str, str | None]:
        found = session.get_credentials()
        if found is None:
            raise S3ErrorReply(403, "InvalidAccessKeyId", "no S3 credentials found")
        frozen = found.get_frozen_credentials()
        return frozen.access_key, frozen.secret_key, frozen.token

    return keys


def new_client(
    session: boto3.session.Session,
    *,
    endpoint_url: str | None,
    region: str | None,
    timeout: float,
    max_attempts: int,
    path_style: bool,
    max_pool: int,
    checksums: bool,
    verify: bool | str | None,
) -> Any:
    """An S3 client; ``checksums`` asks for a CRC on every request (multipart parts)."""
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        s3={"addressing_style": "path" if path_style else "auto"},
        max_pool_connections=max_pool,
        # Small PUTs carry a Content-MD5 the store checks; multipart parts a CRC.
        request_checksum_calculation="when_supported" if checksums else "when_required",
        parameter_validation=False,
    )
    # Sessions are not thread-safe: clients are made one at a time.
    with _sessions_lock:
        client = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config, verify=verify
        )
    if endpoint_url:
        # Before botocore's region redirector, which asks the endpoint again and
        # again when it answers a redirect without naming a region.
        client.meta.events.register_first("needs-retry.s3", refuse_redirect)
    return client


def refuse_redirect(response: Any = None, **kwargs: Any) -> None:
    """Raise the store's redirect as its error reply: a redirect is never followed."""
    if response is None:
        return
    http, parsed = response
    status = http.status_code
    if 300 <= status < 400:
        error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
        raise S3ErrorReply(status, str(error.get("Code") or status), error.get("Message") or "")


def boto3_needed(
    endpoint_url: str, ca_file: str | None, region: str | None, options: dict[str, Any]
) -> str | None:
    """Why the direct path cannot be set up without asking boto3, or None.

    With the keys given, boto3 reads its configuration only for settings
    that change these requests: a profile, a proxy, the region
    (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the config file) when none is
    given, and for HTTPS the CA bundle (``AWS_CA_BUNDLE``, the config file)
    when ``ca_file`` is not given.  When any of them may be set, boto3 is
    asked — and the direct path used only if :func:`fast_put_refusal` allows.
    """
    if options.get("profile"):
        return "a profile is named"
    if urllib.request.getproxies():
        return "a proxy is configured"
    config = os.environ.get("AWS_CONFIG_FILE") or os.path.expanduser("~/.aws/config")
    has_config = os.path.exists(config)
    if region is None and (has_config or {"AWS_REGION", "AWS_DEFAULT_REGION"} & set(os.environ)):
        return "the region comes from boto3's configuration"
    https = endpoint_url.lower().startswith("https:")
    if https and ca_file is None and (has_config or "AWS_CA_BUNDLE" in os.environ):
        return "the CA bundle may come from boto3's configuration"
    return None


def fast_put_refusal(
    session: boto3.session.Session, endpoint_url: str, ca_file: str | None
) -> str | None:
    """Why small objects must go through boto3 rather than the fast path, or None.

    boto3 honours proxy variables (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``NO_PROXY`` …) and, for HTTPS, a CA bundle from ``AWS_CA_BUNDLE`` or the
    profile's ``ca_bundle``; the fast path would not, so it steps aside
    whenever a proxy variable is set, and for an HTTPS endpoint whenever
    such a bundle is (``ca_file=`` is honoured by both).
    """
    if urllib.request.getproxies():
        return "a proxy is configured"
    https = endpoint_url.lower().startswith("https:")
    if https and ca_file is None and session._session.get_config_variable("ca_bundle"):
        return "a CA bundle is configured for boto3"
    return None


class Hangups:
    """The connections of some clients, to shut down at once; see the module docstring."""

    def __init__(self) -> None:
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.hung_up = False

    def track(self, client: Any) -> bool:
        """Record the connections ``client`` opens from now on; False if botocore will not say."""
        http = getattr(getattr(client, "_endpoint", None), "http_session", None)
        classes = getattr(http, "_pool_classes_by_scheme", None)
        if not isinstance(classes, dict):
            return False
        for scheme, pool in list(classes.items()):
            classes[scheme] = self._tracking(pool)
        return True

    def _tracking(self, pool: Any) -> Any:
        hangups = self

        class Tracked(pool.ConnectionCls):  # type: ignore[misc]
            def connect(self) -> None:
                hangups._opened(self)
                super().connect()

        return type(f"Tracked{pool.__name__}", (pool,), {"ConnectionCls": Tracked})

    def _opened(self, connection: Any) -> None:
        with self._lock:
            if self.hung_up:
                raise ConnectionAbortedError("the call ran out of time")
            self._connections.add(connection)

    def hang_up(self) -> None:
        """Shut every recorded connection down, and refuse new ones."""
        with self._lock:
            self.hung_up = True
            connections = list(self._connections)
        for connection in connections:
            hang_up(getattr(connection, "sock", None))


class Reporting(io.BytesIO):
    """A request body that reports each read (botocore reads it as it sends)."""

    def __init__(self, data: bytes, report: Callable[[int], None]) -> None:
        super().__init__(data)
        self._report = report

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self._report(len(chunk))
        return chunk
