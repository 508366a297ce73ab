"""Shipping and fetching on ``memory://`` targets: the route logic without a server.

The same behaviour against real FTP, SFTP and S3 servers is in
``tests/integration/test_ship*.py``; these tests pin what does not depend on
the protocol — claims, order, parallel workers, refusals, stopping, route
identity, markers — and run in milliseconds.
"""

from __future__ import annotations

import errno
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from entrepot.errors import (
    ConfigError,
    ConnectionFailed,
    RemoteExists,
    SpoolNotFound,
    UnsafeEntry,
)
from entrepot.jobs import FakeClock, JobState, Ledger, Outcome, Runner
from entrepot.ship import Fetcher, FetchJob, Observer, Report, ShipJob, ShipOptions, Shipper
from entrepot.spool import Spool
from entrepot.spool.areas import FolderDescriptors
from entrepot.targets import register_backend
from entrepot.targets.memory import MemoryTarget, get_store


@pytest.fixture
def url() -> str:
    """A fresh in-memory folder."""
    return f"memory://ship-{uuid.uuid4().hex[:8]}/drop"


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "outbox").prepare()


def remote(url: str) -> dict[str, bytes]:
    """The files of the in-memory folder ``url``, by name."""
    store, folder = url.split("://", 1)[1].split("?")[0].split("/", 1)
    files = get_store(store).files
    return {key[len(folder) + 1 :]: data for key, (data, _) in files.items()}


class Recorder(Observer):
    """Keeps every step it is told of."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def _add(self, event: str, name: str) -> None:
        with self.lock:
            self.events.append((event, name))

    def transferring(self, name: str) -> None:
        self._add("transferring", name)

    def transferred(self, name: str, size: int) -> None:
        self._add("transferred", name)

    def failed(self, name: str, error: BaseException) -> None:
        self._add("failed", name)


class Flaky(MemoryTarget):
    """A memory target whose uploads of names starting ``fail-`` are refused, and whose
    ``n``-th upload (counted over all targets) loses the connection."""

    scheme = "flaky"
    puts: ClassVar[Counter[str]] = Counter()
    drop_at: ClassVar[int | None] = None

    def _put(self, path: str, src: Any, size: int, progress: Any) -> Any:
        Flaky.puts["all"] += 1
        if Flaky.drop_at is not None and Flaky.puts["all"] == Flaky.drop_at:
            raise ConnectionFailed("connection dropped", url=self.url)
        return super()._put(path, src, size, progress)

    def _rename(self, src: str, dst: str) -> None:
        if dst.startswith("fail-"):
            raise self._error(RemoteExists, "refused for the test", dst)
        super()._rename(src, dst)


@pytest.fixture
def flaky() -> Iterator[type[Flaky]]:
    register_backend("flaky", Flaky)
    Flaky.puts.clear()
    Flaky.drop_at = None
    yield Flaky
    Flaky.drop_at = None


def fill(spool: Spool, count: int, prefix: str = "f") -> dict[str, bytes]:
    files = {f"{prefix}-{n:03d}.csv": b"row %d\n" % n for n in range(count)}
    with spool.batch() as batch:
        for name, data in files.items():
            batch.add_bytes(data, name)
    return files


def test_a_run_delivers_every_file_once_and_moves_it_to_cur(spool: Spool, url: str) -> None:
    files = fill(spool, 40)
    report = Shipper(spool, url, options=ShipOptions(parallel=4)).run()
    assert report.ok and sorted(report.done) == sorted(files)
    assert remote(url) == files
    assert spool.names("new") == [] and spool.names("claimed") == []
    assert sorted(spool.names("cur")) == sorted(files)


def test_moves_to_cur_are_synced_in_groups_and_all_before_the_run_returns(
    spool: Spool, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = fill(spool, 300)
    in_cur_when_synced: list[int] = []
    real = FolderDescriptors.fsync

    def fsync(self: FolderDescriptors, folder: str) -> None:
        real(self, folder)
        if os.path.basename(folder) == "cur":
            in_cur_when_synced.append(len(os.listdir(folder)))

    monkeypatch.setattr(FolderDescriptors, "fsync", fsync)
    report = Shipper(spool, url, options=ShipOptions(parallel=4)).run()
    assert report.ok and remote(url) == files
    # Not once per file (it was 300 syncs) ...
    assert 1 <= len(in_cur_when_synced) <= 30
    # ... and the last one covers every file moved.
    assert in_cur_when_synced[-1] == len(files)


def test_a_refused_file_is_reported_once_and_the_others_go_on(
    spool: Spool, url: str, flaky: type[Flaky]
) -> None:
    files = fill(spool, 3)
    spool.publish_bytes(b"no", "fail-me.csv")
    observer = Recorder()
    shipper = Shipper(spool, url.replace("memory", "flaky"), observer=observer)
    with pytest.raises(RemoteExists):
        shipper.run()
    # Told to the observer once (it was twice), kept in new/, the others delivered.
    assert observer.events.count(("failed", "fail-me.csv")) == 1
    assert spool.names("new") == ["fail-me.csv"] and spool.names("claimed") == []
    assert sorted(spool.names("cur")) == sorted(files)


def test_a_dropped_connection_stops_the_batch_and_loses_nothing(
    spool: Spool, url: str, flaky: type[Flaky]
) -> None:
    files = fill(spool, 20)
    flaky.drop_at = 6
    shipper = Shipper(
        spool,
        url.replace("memory", "flaky"),
        options=ShipOptions(parallel=3),
        target_options={"reconnect": False},
    )
    with pytest.raises(ConnectionFailed):
        shipper.run()
    done, waiting = set(spool.names("cur")), set(spool.names("new"))
    assert done | waiting == set(files) and not done & waiting and waiting
    assert spool.names("claimed") == []
    assert set(remote(url.replace("memory", "flaky"))) >= done


def test_stop_takes_no_new_file_and_releases_nothing_held(spool: Spool, url: str) -> None:
    fill(spool, 30)

    class StopAfterThree(Recorder):
        def transferred(self, name: str, size: int) -> None:
            super().transferred(name, size)
            if sum(event == "transferred" for event, _ in self.events) == 3:
                shipper.stop()

    observer = StopAfterThree()
    shipper = Shipper(spool, url, options=ShipOptions(parallel=2), observer=observer)
    report = shipper.run()
    # The transfers in hand when stop() came were finished: 3 or 4 files, not 30.
    assert 3 <= len(report.done) <= 4
    assert spool.names("claimed") == []
    assert len(spool.names("new")) == 30 - len(report.done)
    assert sorted(remote(url)) == sorted(report.done)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    shadow = tmp_path / "shadow"
    shadow.write_text("root:SECRET-HASH")
    return shadow


def test_a_file_swapped_for_a_link_after_the_listing_is_not_shipped(
    spool: Spool, url: str, secret: Path
) -> None:
    fill(spool, 2)
    shipper = Shipper(spool, url)
    names = [entry.name for entry in shipper.pending()]
    victim = spool.root / "new" / names[0]
    victim.unlink()
    victim.symlink_to(secret)
    report = Report()
    with pytest.raises(UnsafeEntry):
        shipper.shielded(lambda: shipper.session(names, report))
    shipper.disconnect()
    assert all(b"SECRET" not in data for data in remote(url).values())
    assert report.failed.keys() == {names[0]} and report.done == [names[1]]
    assert spool.names("claimed") == [] and os.path.islink(victim)


def test_a_claimed_file_swapped_for_a_link_is_never_read(
    spool: Spool, url: str, secret: Path
) -> None:
    fill(spool, 1)

    class Swapper(Recorder):
        def transferring(self, name: str) -> None:
            # Between the claim and the read: the claimed name becomes a link.
            [held] = spool.held_claims()
            held.path.unlink()
            held.path.symlink_to(secret)

    with pytest.raises(UnsafeEntry):
        Shipper(spool, url, observer=Swapper()).run()
    assert all(b"SECRET" not in data for data in remote(url).values())
    assert spool.names("claimed") == []


def test_the_plan_of_a_dry_run_moves_nothing(spool: Spool, url: str) -> None:
    files = fill(spool, 3)
    plan = Shipper(spool, url).plan()
    assert [(entry.name, name) for entry, name in plan] == [(n, n) for n in files]
    assert sorted(spool.names("new")) == sorted(files) and remote(url) == {}


def test_conflict_skip_keeps_an_identical_remote_file(spool: Spool, url: str) -> None:
    fill(spool, 1)
    Shipper(spool, url).run()
    spool.move("f-000.csv", "cur", "new")
    report = Shipper(spool, url, options=ShipOptions(conflict="skip")).run()
    assert report.done == ["f-000.csv"]
    with pytest.raises(ConfigError, match="conflict policy"):
        ShipOptions(conflict="overwrite")  # type: ignore[arg-type]


def test_a_route_is_checked_when_it_is_made(spool: Spool, monkeypatch: Any) -> None:
    with pytest.raises(ConfigError, match="sftpp"):
        Shipper(spool, "sftpp://host/in")
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_PASSWORD"):
        Shipper(spool, "ftp://u@host/in", target_options={"password_env": "NO_SUCH_PASSWORD"})
    with pytest.raises(ConfigError, match=r"password file .*No such file"):
        Shipper(spool, "ftp://u@host/in", target_options={"password_file": "/nonexistent/pw"})


def test_route_identity(spool: Spool, tmp_path: Path, url: str) -> None:
    def identity(*args: Any, **kwargs: Any) -> str:
        return Shipper(*args, **kwargs).identity

    base = identity(spool, url)
    # Other credentials, timeouts or parallelism: the same route.
    assert identity(spool.root / ".." / "outbox", url, target_options={"timeout": 5}) == base
    assert identity(spool, url, options=ShipOptions(parallel=4, after="delete")) == base
    # Another folder, spool, direction or protocol: another route.
    assert identity(spool, url + "/sub") != base
    assert identity(Spool(tmp_path / "other"), url) != base
    assert Fetcher(spool, url).identity != base
    assert identity(spool, url, options=ShipOptions(protocol="marker")) != base
    ftp = identity(spool, "ftp://u@Host.Example:21/in")
    assert identity(spool, "ftp://u@host.example/in", target_options={"timeout": 3}) == ftp


def test_a_job_stores_the_absolute_spool_and_refuses_a_password_in_its_url(
    spool: Spool, url: str, monkeypatch: Any
) -> None:
    monkeypatch.chdir(spool.root.parent)
    job = ShipJob("outbox", url)
    assert job.params()["spool"] == str(spool.root.resolve())
    for hostile in (
        "ftp://u:SECRET@host/in",
        "ftp://u:ab/cdSECRET@host:2131/in",
        "ftp:/u:SECRET@h",
    ):
        with pytest.raises(ConfigError, match="password") as raised:
            ShipJob("outbox", hostile)
        assert "SECRET" not in str(raised.value)


def test_a_missing_spool_fails_the_job_instead_of_succeeding_empty(
    tmp_path: Path, url: str
) -> None:
    spool = Spool(tmp_path / "gone").prepare()
    spool.publish_bytes(b"x", "waiting.csv")
    with Ledger.open(tmp_path / "state", clock=FakeClock()) as ledger:
        job = ShipJob(str(spool.root), url)
        (spool.root / "new" / "waiting.csv").rename(tmp_path / "kept.csv")
        for area in ("new", "cur", "tmp"):
            os.rmdir(spool.root / area)
        result = Runner(ledger).run(job)
        assert result.outcome is Outcome.FAILED and result.state is JobState.BACKLOG
        assert isinstance(result.error.__cause__, SpoolNotFound)  # type: ignore[union-attr]


def test_runs_of_one_route_share_one_waiting_job(
    spool: Spool, url: str, flaky: type[Flaky], tmp_path: Path
) -> None:
    fill(spool, 2)
    down = url.replace("memory", "flaky").replace("/drop", "/fail-drop")
    clock = FakeClock()
    with Ledger.open(tmp_path / "state", clock=clock) as ledger:
        runner = Runner(ledger, clock=clock)
        flaky.drop_at = 1
        flaky_url = url.replace("memory", "flaky") + "?reconnect=false"
        first = runner.run(ShipJob(str(spool.root), flaky_url, max_tries=1))
        assert first.state is JobState.BACKLOG
        for _ in range(2):
            flaky.puts.clear()
            again = runner.run(ShipJob(str(spool.root), flaky_url, max_tries=1))
            assert again.job_id == first.job_id and again.state is JobState.BACKLOG
        flaky.puts.clear()
        other = runner.run(ShipJob(str(spool.root), down + "?reconnect=false", max_tries=1))
        assert other.job_id != first.job_id  # another route, its own job
        flaky.drop_at = None
        back = runner.run(ShipJob(str(spool.root), flaky_url))
        assert back.job_id == first.job_id and back.ok
        waiting = ledger.jobs(states=[JobState.BACKLOG, JobState.DEAD])
        assert [job.id for job in waiting] == [other.job_id]
        assert [run.trigger for run in ledger.runs(first.job_id)] == [
            "new",
            "joined",
            "joined",
            "joined",
        ]


def test_fetch_takes_only_marked_files_and_removes_their_markers(spool: Spool, url: str) -> None:
    with Shipper(spool, url).open_target() as target:
        target.upload_bytes(b"complete", "a.csv")
        target.upload_bytes(b"", "a.csv.done")
        target.upload_bytes(b"still being written", "b.csv")
    report = Fetcher(spool, url, options=ShipOptions(protocol="marker")).run()
    assert report.done == ["a.csv"]
    assert spool.names("new") == ["a.csv"]
    assert remote(url) == {"b.csv": b"still being written"}


def test_fetch_blames_a_full_local_disk_on_the_spool(spool: Spool, url: str) -> None:
    class FullDisk(MemoryTarget):
        scheme = "fulldisk"

        def _get(self, path: str, *args: Any) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    register_backend("fulldisk", FullDisk)
    target_url = url.replace("memory", "fulldisk")
    with Shipper(spool, target_url).open_target() as target:
        target.upload_bytes(b"data", "big.csv")
    with pytest.raises(OSError) as raised:
        Fetcher(spool, target_url).run()
    assert raised.value.errno == errno.ENOSPC
    assert str(spool.root / "tmp") in str(raised.value)
    assert "big.csv" not in str(raised.value) and spool.names("tmp") == []
    assert remote(target_url) == {"big.csv": b"data"}


def test_fetch_job_into_a_missing_spool_fails(tmp_path: Path, url: str) -> None:
    result = Runner(None).run(FetchJob(str(tmp_path / "nowhere"), url))
    assert result.outcome is Outcome.FAILED
    assert isinstance(result.error.__cause__, SpoolNotFound)  # type: ignore[union-attr]
    assert not (tmp_path / "nowhere").exists()
