"""Delivery targets: the places files are sent to and read back from.

A target is named by a URL and opened with :func:`open_target`::

    from entrepot.targets import open_target

    with open_target("sftp://ingest@files.example.org:2222/drop",
                     password_env="DROP_PASSWORD", known_hosts="~/.ssh/known_hosts",
                     timeout=30) as target:
        info = target.upload("out/2024-06-01.csv", "2024-06-01.csv",
                             conflict="replace", verify=True)
        print(info.name, info.size, info.checksum)

Schemes: ``file:///path`` (or a plain path), ``memory://store/folder``,
``ftp://``, ``ftps://`` (explicit TLS), ``sftp://`` and
``s3://bucket/prefix?endpoint_url=…``.  Options are keywords, or query-string
parameters of the URL; secrets come from ``password=``, ``password_env=`` or
``password_file=`` (S3: ``access_key``/``secret_key`` or the usual AWS
sources) and are never shown — :attr:`Target.url` masks the password.

Every :class:`Target` offers:

``upload(local, name, *, conflict="replace", verify=True, progress=None) -> RemoteInfo``
    publish atomically (temporary name + rename, or one atomic PUT); conflict
    policies ``replace``, ``skip`` (identical size/checksum), ``fail``
    (:class:`~entrepot.errors.RemoteExists`), ``rename`` (``name-1.ext``);
    ``verify`` checks the size and, where the protocol has one, the checksum
    (``verify="content"`` reads the file back); ``progress(n_bytes)``.
``upload_bytes(data, name, ...)``
    the same for a small in-memory payload (a lock file, a marker).
``download(name, local)``, ``read_bytes(name)``
    local files are written under a temporary name and renamed.
``stat(name) -> RemoteInfo | None``, ``exists(name)``, ``list(folder="")``
    listings hide temporary upload names.
``delete(name)``, ``rename(src, dst)``, ``makedirs(folder)``, ``close()``

Remote names may contain sub-folders (``"2024/06/a.csv"``); each component is
checked with :func:`entrepot.names.check_name`, and sub-folders are created
on upload; :func:`remote_name_problem` says whether a listed remote name may
be fetched.  Failures raise :class:`~entrepot.errors.TransientTargetError`
(retry later) or :class:`~entrepot.errors.PermanentTargetError` (someone must
act), carrying ``url`` (masked), ``host``, ``port`` and ``path``.  Every
network call has a deadline: ``timeout`` seconds without progress.

A target keeps its connection open across calls and is used by one thread at
a time; :class:`ConnectionPool` (and :func:`upload_many` on top of it) runs
work over several targets in parallel.  :func:`refuse_stored_secrets` and
:func:`option_pairs` keep secrets out of stored jobs and command lines.  New
schemes are added with :func:`register_backend` or the ``entrepot.targets``
entry-point group.
"""

from __future__ import annotations

from entrepot.targets.base import Target
from entrepot.targets.info import RemoteInfo, is_partial, remote_name_problem
from entrepot.targets.options import option_pairs, refuse_stored_secrets
from entrepot.targets.parallel import ConnectionPool, Transfer, upload_many
from entrepot.targets.publish import CONFLICT_POLICIES, Conflict, Verify
from entrepot.targets.registry import backend_for, open_target, register_backend, schemes
from entrepot.targets.transfer import Progress
from entrepot.targets.url import TargetURL, mask_url, parse_url

__all__ = [
    "CONFLICT_POLICIES",
    "Conflict",
    "ConnectionPool",
    "Progress",
    "RemoteInfo",
    "Target",
    "TargetURL",
    "Transfer",
    "Verify",
    "backend_for",
    "is_partial",
    "mask_url",
    "open_target",
    "option_pairs",
    "parse_url",
    "refuse_stored_secrets",
    "register_backend",
    "remote_name_problem",
    "schemes",
    "upload_many",
]
