"""Exit codes of the ``entrepot`` command, and the one place errors map to them.

Scripts and schedulers act on these numbers, so they never change meaning:

====  =================  ==================================================
code  name               meaning
====  =================  ==================================================
0     OK                 everything asked for was done
1     FAILED             some work failed; see the output and the ledger
2     USAGE              the command line was wrong
3     CONFIG             a setting, URL or option is invalid
4     NOT_FOUND          a named file, entry, job or folder does not exist
5     TEMPORARY          a transient failure (network, lock); retry later
6     REFUSED            a permanent refusal (credentials, permission)
7     DATA               the input data is invalid or damaged
130   INTERRUPTED        stopped by Ctrl-C (SIGINT)
143   TERMINATED         stopped by SIGTERM; work in flight was released
====  =================  ==================================================
"""

from __future__ import annotations

import errno
from enum import IntEnum

from entrepot import errors


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    NOT_FOUND = 4
    TEMPORARY = 5
    REFUSED = 6
    DATA = 7
    INTERRUPTED = 130
    TERMINATED = 143


# Checked in order: the first matching class decides.
_MAPPING: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (errors.ConfigError, ExitCode.CONFIG),
    (errors.InvalidName, ExitCode.USAGE),
    (errors.UnknownName, ExitCode.NOT_FOUND),
    (errors.EntryNotFound, ExitCode.NOT_FOUND),
    (errors.SpoolNotFound, ExitCode.NOT_FOUND),
    (errors.SpoolLayoutError, ExitCode.CONFIG),
    (errors.UnsafeEntry, ExitCode.REFUSED),
    (errors.UnknownJob, ExitCode.NOT_FOUND),
    (errors.RemoteNotFound, ExitCode.NOT_FOUND),
    (errors.TransientTargetError, ExitCode.TEMPORARY),
    (errors.DatabaseUnavailable, ExitCode.TEMPORARY),
    (errors.PermanentTargetError, ExitCode.REFUSED),
    (errors.ArchiveError, ExitCode.DATA),
    (errors.UploadRejected, ExitCode.DATA),
    (errors.ImportFailed, ExitCode.DATA),
    (errors.ImportBusy, ExitCode.TEMPORARY),
    (errors.SchemaError, ExitCode.CONFIG),
    (FileNotFoundError, ExitCode.NOT_FOUND),
    (PermissionError, ExitCode.REFUSED),
    # What is left of the data center's own errors is a mistake in what it was asked
    # (a storage path that is a file, or inside the current one): a setting.
    (errors.DataCenterError, ExitCode.CONFIG),
)


_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code that tells a script what kind of failure ``exc`` is."""
    if isinstance(exc, OSError) and exc.errno in _SPACE_ERRNOS:
        # A full disk or quota is cleared by someone freeing space, then a retry.
        return ExitCode.TEMPORARY
    for cls, code in _MAPPING:
        if isinstance(exc, cls):
            return code
    return ExitCode.FAILED
