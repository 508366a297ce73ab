"""Fetching: the other direction — remote files into a spool's ``new/``.

Each remote file is downloaded into the spool's ``tmp/``, published durably
into ``new/``, and only then deleted on the server (or moved into a remote
folder given by ``remote_after``).  A crash at any point leaves the file
either still on the server or safely in the spool — at worst both, and the
next run then sees the local copy is complete and only removes the remote one.
Under the lock protocol the run holds a ``read`` lock in the remote folder.
"""

from __future__ import annotations

import contextlib
import os

from entrepot.errors import InvalidName, NameExists, PermanentTargetError
from entrepot.names import check_name
from entrepot.ship.route import Report, Route, is_data_name
from entrepot.spool import unique_name
from entrepot.targets import RemoteInfo, Target


class Fetcher(Route):
    """Fetches one remote folder into one spool; see the module docstring."""

    def survey(self, target: Target) -> tuple[list[RemoteInfo], set[str]]:
        """The data files in the remote folder (oldest first where the server says) and
        every name present, from one listing."""
        listing = target.list("")
        files = [
            info for info in listing if not info.is_dir and is_data_name(info.name, self.options)
        ]
        files.sort(key=lambda info: (info.mtime or 0.0, info.name))
        return files, {info.name for info in listing}

    def open_session(self, target: Target, present: set[str]) -> None:
        """Take the ``read`` lock under the lock protocol."""
        self.acquire_lock(target, present, self.options.read_lock)

    def fetch_one(self, target: Target, info: RemoteInfo) -> int:
        """Bring one remote file into ``new/``, then remove (or move) the remote copy."""
        name = check_name(info.name, what="remote file name")
        self.observer.transferring(name)
        scratch = self.spool.root / "tmp" / unique_name()
        try:
            target.download(name, scratch)
            size = scratch.stat().st_size
            try:
                self.spool.publish_file(scratch, name, link=True)
            except NameExists:
                # An earlier run published it but died before the remote delete.
                existing = self.spool.root / "new" / name
                if existing.stat().st_size != size:
                    raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)
        self.observer.transferred(name, size)
        if self.options.remote_after:
            destination = f"{self.options.remote_after}/{name}"
            target.makedirs(self.options.remote_after)
            target.rename(name, destination)
            self.observer.moved(name, "remote", self.options.remote_after)
        else:
            target.delete(name)
            self.observer.removed(name, "remote")
        return size

    def fetch_all(self, target: Target, files: list[RemoteInfo], report: Report) -> None:
        """Fetch ``files`` one after another; refusals of single files are recorded.

        A transient failure stops the run and is raised; the first permanent
        one is raised at the end, after the other files were fetched.
        """
        refused: list[BaseException] = []
        self.spool.prepare()
        for info in files:
            try:
                size = self.fetch_one(target, info)
            except (PermanentTargetError, InvalidName, NameExists) as exc:
                self.observer.failed(info.name, exc)
                report.add_failed(info.name, exc)
                refused.append(exc)
                continue
            report.add_done(info.name, size)
        if refused:
            raise refused[0]

    def run(self) -> Report:
        """One complete run without retries."""
        report = Report()
        target = self.connect()
        try:
            files, present = self.survey(target)
            if files:
                self.open_session(target, present)
                self.fetch_all(target, files, report)
        finally:
            self.disconnect(target)
        return report
