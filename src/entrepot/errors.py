"""Every error Entrepôt raises on purpose, grouped by what the caller can do.

Catch :class:`EntrepotError` to catch them all.  The tree::

    EntrepotError
    ├── ConfigError                   bad settings, URL or option; fix and run again
    │   └── BackendUnavailable        a target scheme whose extra is not installed
    ├── UnknownName (LookupError)     no target, spool or route of that name in the configuration
    ├── InvalidName (ValueError)      a name that could escape its folder or is unusable
    ├── SpoolError                    the local spool
    │   ├── SpoolLayoutError          the spool folder or an area cannot be used
    │   │   └── SpoolNotFound         (FileNotFoundError) no spool at that path
    │   ├── NameExists                a caller-chosen name is already taken
    │   ├── EntryNotFound             no such file in that area
    │   ├── ClaimLost                 the claim expired and was recovered by someone else
    │   └── UnsafeEntry               not a regular file (a symbolic link, a FIFO): never read
    ├── ArchiveError                  event archives
    │   ├── UnknownFormat             not an archive, or a format version we do not know
    │   ├── CorruptRecord             a record failed its checksum or framing
    │   ├── RecordTooLarge            an event over the archive's max_record: never written
    │   ├── ArchiveClosed             writing to a sealed archive
    │   └── NoMoreFiles               (entrepot.archive) every archive of a set has been read
    ├── TargetError                   a delivery target (carries url, host, port, path)
    │   ├── TransientTargetError      worth retrying: the same call may work later
    │   │   ├── ConnectionFailed      refused, dropped, reset, DNS
    │   │   ├── TargetTimeout         a network call took longer than its timeout
    │   │   ├── RemoteLocked          a lock file on the remote side says "not now"
    │   │   └── VerificationFailed    the remote copy does not match the local one
    │   └── PermanentTargetError      retrying will not help until someone acts
    │       ├── AuthenticationFailed  wrong user, password, key or unknown host key
    │       ├── RemoteNotFound        no such remote folder, file or bucket
    │       ├── PermissionDenied      the server refuses the operation
    │       └── RemoteExists          the name is taken and the conflict policy is "fail"
    ├── JobError                      the job machinery
    │   ├── JobFailed                 a job step failed (step, code, cause)
    │   ├── UnknownJob                no such job id in the ledger
    │   └── WorkClaimed               another instance of the fleet runs that work now
    └── DataCenterError               CSV storage and imports
        ├── DataCenterNotFound        no data center folder there (FileNotFoundError)
        ├── UploadRejected            an upload refused (name, size, encoding, duplicate)
        ├── SchemaError               a table schema file is wrong
        ├── ImportFailed              an import could not run at all (bad header, …)
        ├── ImportBusy                another process imports the same file right now
        └── DatabaseUnavailable       the database cannot be reached now (ConnectionError)

Third-party exceptions are translated in one place per backend and chained
with ``raise ... from exc`` so the original cause is never lost.  The class
docstring's first line is the default message.
"""

from __future__ import annotations

from typing import Any


class EntrepotError(Exception):
    """Entrepôt failed."""

    def __init__(self, message: str | None = None, *args: Any) -> None:
        if message is None:
            message = (self.__class__.__doc__ or self.__class__.__name__).strip().splitlines()[0]
        super().__init__(message, *args)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return self.message


# -- configuration -----------------------------------------------------------


class ConfigError(EntrepotError):
    """The configuration is invalid."""


class BackendUnavailable(ConfigError):
    """The backend for this scheme is not installed."""


class UnknownName(EntrepotError, LookupError):
    """No such name in the configuration file."""


class InvalidName(EntrepotError, ValueError):
    """The name is not allowed."""


# -- spool -------------------------------------------------------------------


class SpoolError(EntrepotError):
    """The spool operation failed."""


class SpoolLayoutError(SpoolError):
    """The spool folder cannot be used."""


class SpoolNotFound(SpoolLayoutError, FileNotFoundError):
    """No spool at this path: create it with ``entrepot spool init``."""


class NameExists(SpoolError):
    """A file with this name already exists."""


class EntryNotFound(SpoolError, FileNotFoundError):
    """No such file in the spool."""


class ClaimLost(SpoolError):
    """The claim is no longer held: its lease expired and the file was recovered."""


class UnsafeEntry(SpoolError):
    """Not a regular file: a symbolic link or a special file is never read or shipped."""


# -- archive -----------------------------------------------------------------


class ArchiveError(EntrepotError):
    """The archive operation failed."""


class UnknownFormat(ArchiveError):
    """Not an archive of a known format."""


class CorruptRecord(ArchiveError):
    """A damaged record was found."""

    def __init__(self, message: str | None = None, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class RecordTooLarge(ArchiveError):
    """An event larger than the archive's ``max_record``: refused, never written."""


class ArchiveClosed(ArchiveError):
    """The archive is sealed and cannot be written to."""


# -- targets -----------------------------------------------------------------


class TargetError(EntrepotError):
    """The target operation failed."""

    #: True when retrying the same operation later may succeed.
    transient: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        path: str | None = None,
    ) -> None:
        # ``url`` must already be the masked form (no password): errors are shown to users.
        super().__init__(message)
        self.url = url
        self.host = host
        self.port = port
        self.path = path

    def __str__(self) -> str:
        where = []
        if self.host:
            where.append(f"{self.host}:{self.port}" if self.port else self.host)
        elif self.url:
            where.append(self.url)
        if self.path:
            where.append(f"path {self.path!r}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


class TransientTargetError(TargetError):
    """The target is temporarily unavailable."""

    transient = True


class ConnectionFailed(TransientTargetError):
    """The connection to the target failed."""


class TargetTimeout(TransientTargetError):
    """The target did not answer in time."""


class RemoteLocked(TransientTargetError):
    """The remote folder is locked by another party."""


class VerificationFailed(TransientTargetError):
    """The remote copy does not match the local file."""


class PermanentTargetError(TargetError):
    """The target refused the operation."""


class AuthenticationFailed(PermanentTargetError):
    """Authentication with the target failed."""


class RemoteNotFound(PermanentTargetError):
    """No such remote folder or file."""


class PermissionDenied(PermanentTargetError):
    """The target denied permission."""


class RemoteExists(PermanentTargetError):
    """The remote name is already taken."""


# -- jobs --------------------------------------------------------------------


class JobError(EntrepotError):
    """The job failed."""


class JobFailed(JobError):
    """A job step failed."""

    def __init__(
        self,
        message: str | None = None,
        *,
        step: str = "",
        code: int = 0,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.code = code
        self.transient = transient


class UnknownJob(JobError, LookupError):
    """No such job."""


class WorkClaimed(JobError):
    """Another instance of the fleet runs this work right now."""

    def __init__(self, message: str | None = None, *, holder: str = "") -> None:
        super().__init__(message)
        #: The instance that holds the work.
        self.holder = holder


# -- data center ---------------------------------------------------------------


class DataCenterError(EntrepotError):
    """The data center operation failed."""


class DataCenterNotFound(DataCenterError, FileNotFoundError):
    """There is no data center folder at that path."""


class UploadRejected(DataCenterError):
    """The upload was refused."""


class SchemaError(DataCenterError):
    """The table schema is invalid."""


class ImportFailed(DataCenterError):
    """The import could not run."""


class ImportBusy(DataCenterError):
    """Another process is importing this file right now; try again later."""


class DatabaseUnavailable(DataCenterError, ConnectionError):
    """The database cannot be reached; the import may work later."""


def is_transient(exc: BaseException) -> bool:
    """Tell whether retrying the operation that raised ``exc`` may succeed."""
    if isinstance(exc, TargetError | JobFailed):
        return exc.transient
    return isinstance(exc, ConnectionError | TimeoutError | ImportBusy)
