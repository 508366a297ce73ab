"""On PostgreSQL, one file's import is held through the database, not only by ``flock``.

Two instances of a fleet importing from a shared upload area each keep
their lock files in the area's state folder, which a network file system may
not lock across hosts: here each "host" gets a lock folder of its own, so
only the database's advisory lock stands between them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from entrepot.datacenter.database import Database
from entrepot.datacenter.imports.lock import ImportLock
from entrepot.errors import ImportBusy
from tests.servers._common import wait_until

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

KEY = hashlib.sha256(b"/shared/dc\0students.csv").hexdigest()


def test_a_second_host_cannot_import_a_file_another_is_importing(
    postgres_url: str, tmp_path: Path
) -> None:
    first, second = Database(postgres_url), Database(postgres_url)
    try:
        held = ImportLock(tmp_path / "host-a", KEY, "students.csv", first)
        held.acquire()
        other = ImportLock(tmp_path / "host-b", KEY, "students.csv", second)
        with pytest.raises(ImportBusy, match="being imported by another process"):
            other.acquire()
        assert other.fd is None  # its flock was let go too
        held.release()
        other.acquire()  # free once the first let go
        other.release()
        # A holder whose connection ends (a killed worker) frees the file too, as
        # soon as the server has seen the connection go.
        held.acquire()
        assert held._session is not None
        held._session.invalidate()

        def free() -> bool:
            try:
                other.acquire()
            except ImportBusy:
                return False
            return True

        wait_until(free, timeout=30, what="the lock of a closed connection")
        other.release()
    finally:
        first.dispose()
        second.dispose()
