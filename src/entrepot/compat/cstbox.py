"""The pycstbox export API (``EventsExportJob``, ``Backlog``) over :mod:`entrepot.jobs`.

Code written for pycstbox keeps working: subclass :class:`EventsExportJob`,
write ``export_events()`` and ``send_data()``, call ``run()`` and read its
code — 0 on success, else the failing step's code (:data:`ERR_PREPARE`,
:data:`ERR_EXPORT_EVENTS`, :data:`ERR_SEND`) plus the :class:`ExportError`'s
subcode.  ``run()`` is the Entrepôt job lifecycle underneath: only sending is
retried (``max_try`` tries, ``retry_delay`` seconds apart), an export of zero
events ends well without sending, and ``cleanup`` is always called.

What changed, on purpose:

* :meth:`EventsExportJob.make_jobid` reads the clock when called, not once
  when the module was imported.
* ``cleanup(error)`` is called even when a step raises something other than
  :class:`ExportError`; that error is then raised again, as before.
* :class:`Backlog` stores each job's data as JSON, never pickle, writes it
  atomically, refuses job ids that could leave its folder (``'../x' in
  backlog`` is simply False), and neither lists nor reads an entry that is
  a symbolic link.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from entrepot.durable import fsync_dir, open_regular, publish, write_file
from entrepot.errors import InvalidName, JobError, JobFailed
from entrepot.jobs.clock import SYSTEM_CLOCK, Clock
from entrepot.jobs.lifecycle import Job, JobContext, Step
from entrepot.jobs.retry import RetryPolicy
from entrepot.jobs.runner import Runner
from entrepot.logs import log_event
from entrepot.names import check_name

__all__ = [
    "ERR_EXPORT_EVENTS",
    "ERR_NONE",
    "ERR_PREPARE",
    "ERR_SEND",
    "Backlog",
    "EventsExportJob",
    "ExportError",
]

ERR_NONE = 0
ERR_PREPARE = Step.PREPARE.code
ERR_EXPORT_EVENTS = Step.PRODUCE.code
ERR_SEND = Step.SEND.code

logger = logging.getLogger(__name__)


class ExportError(JobError):
    """The export step failed."""

    def __init__(self, msg: str | None = None, subcode: int = 0) -> None:
        super().__init__(msg)
        given: object = subcode  # typed int, but callers are not type-checked
        if isinstance(given, str | bytes):
            # pycstbox computed ``subcode % 100``: for a text, a TypeError (not a number read).
            raise TypeError(f"subcode must be a number, not {type(subcode).__name__}")
        # Codes are numbered by hundreds, so a subcode lives in 0-99.
        self._subcode = int(subcode % 100)

    @property
    def subcode(self) -> int:
        return self._subcode


class _Steps(Job):
    """Maps the pycstbox callbacks onto the Entrepôt lifecycle steps."""

    kind = "cstbox"
    retry_steps = frozenset({Step.SEND})

    def __init__(self, export: EventsExportJob) -> None:
        self._export = export

    @property
    def name(self) -> str:
        return self._export.name

    def prepare(self, ctx: JobContext) -> None:
        log_event(ctx.logger, "cstbox.preparing", job_id=ctx.job_id)
        self._export.prepare()

    def produce(self, ctx: JobContext) -> int:
        log_event(ctx.logger, "cstbox.exporting", job_id=ctx.job_id)
        exported = self._export.export_events()
        if not exported:  # None or zero: nothing to send
            log_event(ctx.logger, "cstbox.no_events", logging.WARNING, job_id=ctx.job_id)
            return 0
        log_event(ctx.logger, "cstbox.exported", job_id=ctx.job_id, events=exported)
        # Any count that is not null is sent, as the seed says (-1 or 0.5 too): to the
        # lifecycle, which sends only when something was produced, it is at least one.
        return max(int(exported), 1) if isinstance(exported, int | float) else 1

    def send(self, ctx: JobContext) -> None:
        log_event(ctx.logger, "cstbox.sending", job_id=ctx.job_id, attempt=ctx.attempt)
        self._export.send_data()

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        if error is None:
            self._export.cleanup()
        else:
            self._export.cleanup(error.__cause__ or error)


class EventsExportJob:
    """Base class of an export job: extract events, send them, clean up.

    Subclasses write :meth:`export_events` and :meth:`send_data`, and may
    write :meth:`prepare` and :meth:`cleanup`.  ``parms`` are the job's
    parameters; override :meth:`_format_parms` to hide secrets in them from
    the log.  :attr:`clock` may be replaced (tests use a fake one so retry
    delays take no time).
    """

    ERR_NONE: ClassVar[int] = ERR_NONE
    ERR_PREPARE: ClassVar[int] = ERR_PREPARE
    ERR_EXPORT_EVENTS: ClassVar[int] = ERR_EXPORT_EVENTS
    ERR_SEND: ClassVar[int] = ERR_SEND

    #: The clock ``run()`` waits on between tries.
    clock: Clock = SYSTEM_CLOCK

    def __init__(
        self, jobname: str, jobid: str, parms: Any, logger: logging.Logger | None = None
    ) -> None:
        if not jobname or not jobid or parms is None:
            raise ValueError("jobname, jobid and parms are all required")
        self._name = jobname
        self._id = jobid
        self._parms = parms
        self._error: BaseException | None = None
        self._logger = logger or logging.getLogger(f"{__name__}.{jobname}")
        log_event(
            self._logger,
            "cstbox.job_created",
            job=jobname,
            job_id=jobid,
            parms=self._format_parms(),
        )

    def _format_parms(self) -> str:
        """The parameters as shown in the log; override to hide secrets."""
        return str(self._parms)

    @property
    def name(self) -> str:
        return self._name

    @property
    def job_id(self) -> str:
        return self._id

    @property
    def parms(self) -> Any:
        return self._parms

    @property
    def last_error(self) -> BaseException | None:
        """The error that ended the last :meth:`run`, or ``None``."""
        return self._error

    @staticmethod
    def make_jobid(ts: datetime | None = None) -> str:
        """A job id from ``ts`` (default: now, in UTC) formatted ``YYMMDDHHMMSS``."""
        if ts is None:
            ts = datetime.now(UTC)
        elif ts.tzinfo is not None:
            ts = ts.astimezone(UTC)
        return ts.strftime("%y%m%d%H%M%S")

    def run(self, max_try: int = 1, retry_delay: float = 10) -> int:
        """Prepare, export, send (with up to ``max_try`` tries) and clean up.

        Returns 0 on success, else the failing step's ``ERR_*`` code plus the
        error's subcode; the error itself is then in :attr:`last_error`.
        Raises ValueError for a ``max_try`` or ``retry_delay`` that is not a
        positive whole number (``True`` counts as 1, as before).
        """
        if not _positive_whole(max_try):
            raise ValueError(f"invalid max_try ({max_try})")
        if not _positive_whole(retry_delay):
            raise ValueError(f"invalid retry_delay ({retry_delay})")
        policy = RetryPolicy.fixed(
            int(max_try), float(retry_delay), retryable=lambda e: isinstance(e, ExportError)
        )
        runner = Runner(policy=policy, clock=self.clock, logger=self._logger)
        self._error = None
        result = runner.run(_Steps(self), job_id=self._id)
        if result.error is None:
            log_event(self._logger, "cstbox.job_completed", job_id=self._id)
            return ERR_NONE
        cause = result.error.__cause__ or result.error
        self._error = cause
        if not isinstance(cause, ExportError):
            # Not an export failure but a bug or a surprise: it propagates,
            # as it always did, now only after cleanup has run.
            raise cause
        log_event(
            self._logger,
            "cstbox.job_failed",
            logging.ERROR,
            job_id=self._id,
            code=result.code,
            error=cause,
        )
        return result.code

    def prepare(self) -> None:
        """Get ready; optional.  Raise :class:`ExportError` on failure."""

    def export_events(self) -> int:
        """Export the events and return how many; mandatory."""
        raise NotImplementedError

    def send_data(self) -> None:
        """Send what :meth:`export_events` produced; mandatory."""
        raise NotImplementedError

    def cleanup(self, error: BaseException | None = None) -> None:
        """Release resources; always called last, with the error if any."""


def _positive_whole(value: Any) -> bool:
    """pycstbox's test: equal to its ``int()`` and above zero, so True (1) passes and
    "2" does not.  A value ``int()`` takes no number from at all is a TypeError, as it was."""
    try:
        return bool(value == int(value) and value > 0)
    except (ValueError, OverflowError):  # "abc", NaN, infinity: invalid, not a crash
        return False


_JOB_ID_RE = re.compile(r"[A-Za-z0-9_.-]+")


class Backlog(MutableMapping[str, Any]):
    """Jobs to re-run later, as a mapping job id → job data, kept in a folder.

    Each named backlog is the folder ``root/name``, created if missing; each
    entry is one JSON file ``<job id>.blog`` written atomically.  Iteration
    yields job ids in sorted (hence, for time-based ids, chronological) order.
    Override :meth:`_store` and :meth:`_load` to change the format.
    """

    DEFAULT_LOCATION_ROOT: ClassVar[str] = "/var/spool/cstbox/export"
    FILE_EXTENSION: ClassVar[str] = ".blog"

    def __init__(self, name: str, root: str | os.PathLike[str] | None = None) -> None:
        if not name:
            raise ValueError("a backlog needs a name")
        check_name(name, what="backlog name")
        path = Path(root if root else self.DEFAULT_LOCATION_ROOT) / name
        if not path.exists():
            path.mkdir(parents=True)
        elif not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"invalid backlog folder: {path}")
        self._location = path
        self._deleted = False

    @property
    def location(self) -> Path:
        return self._location

    def __repr__(self) -> str:
        return f"Backlog({str(self._location)!r})"

    # -- mapping -------------------------------------------------------------------

    def __setitem__(self, job_id: str, parms: Any) -> None:
        self._check_job_id(job_id)
        self._store(job_id, parms)

    def __getitem__(self, job_id: str) -> Any:
        """The entry's data; KeyError when there is none that can be read (as before,
        where any OSError was a KeyError): missing, a folder, or a link, never followed."""
        self._check_job_id(job_id)
        try:
            return self._load(job_id)
        except OSError:
            raise KeyError(job_id) from None

    def __delitem__(self, job_id: str) -> None:
        self._check_job_id(job_id)
        try:
            self._fpath(job_id).unlink()
        except OSError:
            raise KeyError(job_id) from None
        fsync_dir(self._location)

    def __iter__(self) -> Iterator[str]:
        self._check_usable()
        return iter(self._job_ids())

    def __len__(self) -> int:
        self._check_usable()
        return len(self._job_ids())

    def __contains__(self, job_id: object) -> bool:
        """Whether ``job_id`` has an entry; False for an id the backlog would refuse."""
        self._check_usable()
        try:
            self._check_job_id(job_id)
        except ValueError:
            return False
        try:
            return stat.S_ISREG(os.lstat(self._fpath(str(job_id))).st_mode)
        except OSError:
            return False

    def iteritems(self) -> Iterator[tuple[str, Any]]:
        """(job id, data) pairs in job id order (the old Python 2 name)."""
        for job_id in self:
            yield job_id, self[job_id]

    def is_empty(self) -> bool:
        return len(self) == 0

    def clear(self) -> None:
        """Remove every entry."""
        self._check_usable()
        for job_id in self._job_ids():
            self._fpath(job_id).unlink(missing_ok=True)
        fsync_dir(self._location)

    def delete(self) -> None:
        """Remove the (empty) backlog folder; OSError if entries remain.

        The backlog cannot be used afterwards: every operation raises OSError.
        """
        self._check_usable()
        self._location.rmdir()
        self._deleted = True

    # -- storage, overridable -----------------------------------------------------

    def _store(self, job_id: str, parms: Any) -> None:
        """Write one entry as JSON, atomically (write aside, fsync, rename)."""
        data = json.dumps(parms, allow_nan=False, sort_keys=True).encode("utf-8")
        final = self._fpath(job_id)
        # Not named after the id: the longest id leaves no room beside it in a name.
        tmp = self._location / f".{secrets.token_hex(8)}.tmp"
        try:
            write_file(tmp, data)
            publish(tmp, final, replace=True)
        finally:
            tmp.unlink(missing_ok=True)

    def _load(self, job_id: str) -> Any:
        """Read one entry; a link is refused (an OSError), never followed out of the folder."""
        with os.fdopen(open_regular(self._fpath(job_id), follow=False), "rb") as handle:
            return json.loads(handle.read())

    # -- internals ----------------------------------------------------------------

    def _fpath(self, job_id: str) -> Path:
        return self._location / (job_id + self.FILE_EXTENSION)

    def _job_ids(self) -> list[str]:
        ext = self.FILE_EXTENSION
        names = (e.name for e in os.scandir(self._location) if e.is_file(follow_symlinks=False))
        return sorted(n[: -len(ext)] for n in names if n.endswith(ext) and not n.startswith("."))

    def _check_usable(self) -> None:
        if self._deleted:
            raise OSError(f"the backlog {self._location} was deleted")

    def _check_job_id(self, job_id: object) -> None:
        """Refuse ids that are not plain names: no separators, no '..', no hidden files."""
        self._check_usable()
        if not isinstance(job_id, str):
            raise ValueError("job id must be a string")
        if not _JOB_ID_RE.fullmatch(job_id):
            raise ValueError(f"invalid job id ({job_id!r})")
        try:
            check_name(job_id + self.FILE_EXTENSION, what="job id")
            check_name(job_id, what="job id")
        except InvalidName as exc:
            raise ValueError(f"invalid job id ({job_id!r}): {exc}") from None
