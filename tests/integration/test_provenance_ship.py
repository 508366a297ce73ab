"""Provenance of shipped files, against real servers: each step recorded once, in order.

A file's journey from ``entrepot spool put`` to an FTP server under the lock
protocol and into ``cur/``; a delivery that failed, then succeeded when its
job was re-run from the backlog; shippers killed with SIGKILL, then a backlog
re-run; checksums against the bytes on pyftpdlib and SeaweedFS; no secret
in any event.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.errors import RemoteExists
from entrepot.jobs import Ledger, Runner
from entrepot.provenance import Kind, Recorder, find
from entrepot.provenance.reader import by_file, verdict
from entrepot.provenance.schema import events_table
from entrepot.ship import FetchJob, ShipJob, ShipOptions, Shipper, trail
from entrepot.spool import Spool

pytestmark = pytest.mark.server


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_files_journey_to_ftp_under_the_lock_protocol(
    ftp_server: Any, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTP_PW", ftp_server.password)
    state, spool = tmp_path / "state", tmp_path / "outbox"
    source = tmp_path / "report-2026-12-05.csv"
    source.write_bytes(b"id,amount\n1,20\n" * 500)
    assert cli("spool", "put", spool, source, "--create", "--state", state)[0] == 0
    code, _, err = cli(
        "ship", spool, ftp_server.url, "--protocol", "lock",
        "--password-env", "FTP_PW", "--state", state,
    )  # fmt: skip
    assert code == 0, err
    delivered = (ftp_server.root / source.name).read_bytes()
    assert delivered == source.read_bytes()

    code, out, _ = cli("trace", source.name, "--state", state, "--json")
    assert code == 0
    (journey,) = json.loads(out)
    kinds = [event["kind"] for event in journey["events"]]
    assert kinds == ["received", "claimed", "delivered", "moved"]
    assert {e["checksum"] for e in journey["events"][:3]} == {_sha256(delivered)}
    assert journey["events"][2]["details"]["remote_name"] == source.name
    assert journey["events"][2]["details"]["remote_size"] == len(delivered)
    assert journey["events"][3]["details"] == {"to": "cur"}
    assert journey["place"] == os.path.realpath(spool)
    assert journey["verdict"].startswith(f"delivered to {ftp_server.url} at ")

    code, out, _ = cli("trace", "report-*.csv", "--state", state)
    assert code == 0 and out.count("\n") == 6  # the file, four events, the verdict
    assert "→ delivered to" in out

    code, out, _ = cli("receipt", spool, "--since", "1h", "--state", state)
    header, row = out.splitlines()
    assert header.startswith("name,size,sha256,delivered_at")
    assert row.startswith(f"{source.name},{len(delivered)},{_sha256(delivered)[7:]},")
    assert cli("trace", "--undelivered", "--since", "1d", "--state", state)[1].startswith("0 files")
    assert cli("trace", "missing.csv", "--state", state)[0] == 4


def test_a_retried_delivery_shows_both_tries(ftp_server: Any, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"new content", "a.csv")
    (ftp_server.root / "a.csv").write_bytes(b"someone else's")
    options = ShipOptions(conflict="fail")
    with Ledger.open(tmp_path / "state") as ledger:
        runner = Runner(ledger)
        first = runner.run(
            ShipJob(spool.root, ftp_server.url, options=options,
                    target_options=ftp_server.options, max_tries=1)
        )  # fmt: skip
        assert not first.ok and first.state is not None
        (ftp_server.root / "a.csv").unlink()
        # The backlog re-run rebuilds the job from its parameters (the password is
        # not among them: the environment gives it back).
        os.environ["ENTREPOT_TEST_FTP_PW"] = ftp_server.password
        try:
            ledger_job = ledger.get(first.job_id)
            params = dict(ledger_job.params)
            params["target_options"] = {
                **params["target_options"],
                "password_env": "ENTREPOT_TEST_FTP_PW",
            }
            second = Runner(ledger).run(ShipJob(**params), job_id=None)
        finally:
            del os.environ["ENTREPOT_TEST_FTP_PW"]
        assert second.ok and second.job_id == first.job_id  # joined the waiting job
        journey = find(ledger.engine, "a.csv")
    steps = [(e.kind, e.attempt) for e in journey]
    assert steps == [
        (Kind.CLAIMED, 1),
        (Kind.FAILED, 1),
        (Kind.CLAIMED, 2),
        (Kind.DELIVERED, 2),
        (Kind.MOVED, 1),
    ]
    assert journey[1].details["error"] == "RemoteExists" and journey[1].details["code"] >= 300
    assert journey[3].checksum == _sha256((ftp_server.root / "a.csv").read_bytes())


CHILD = r"""
import sys
from entrepot.errors import RemoteExists
from entrepot.jobs import Ledger, Runner
from entrepot.ship import ShipJob, ShipOptions

with Ledger.open(sys.argv[3]) as ledger:
    print("ready", flush=True)
    Runner(ledger).run(ShipJob(
        sys.argv[1], sys.argv[2], options=ShipOptions(parallel=2),
        target_options={"password_env": "SHIP_PASSWORD", "timeout": 10},
    ))
print("finished", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("receipts", [False, True], ids=["no receipt", "receipts"])
def test_killed_shippers_lose_no_event_and_duplicate_none(
    ftp_server: Any, tmp_path: Path, receipts: bool
) -> None:
    state = tmp_path / "state"
    # With receipts: journaled by the batch, kept by each shipment for its commit.
    spool = Spool(tmp_path / "outbox", provenance=state if receipts else None).prepare()
    expected = {}
    with spool.batch() as batch:
        for number in range(300):
            data = os.urandom(random.randrange(100, 3000))
            expected[batch.add_bytes(data, f"part-{number:04d}.bin")] = data
    spool.close()  # its journal of receipts released: the shipments' to take
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "SHIP_PASSWORD": ftp_server.password}  # fmt: skip
    rng = random.Random(1414)
    kills = 0
    for _ in range(12):
        if kills == 4 or not spool.names("new"):
            break
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(spool.root), ftp_server.url, str(state)],
            stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        delivered = len(spool.names("cur"))
        deadline = time.monotonic() + 20
        # Killed once some files went (their events are in memory and the journal).
        while len(spool.names("cur")) < delivered + rng.randrange(5, 40):
            if child.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.005)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
        child.stdout.close()
    assert kills >= 2, "the shipper finished too fast to be killed"

    with Ledger.open(state) as ledger:
        # The backlog re-run (the killed runs' job is taken back from its dead runner).
        ledger.recover_interrupted()
        Runner(ledger).run_due()
        Runner(ledger).run(ShipJob(spool.root, ftp_server.url,
                                   target_options=ftp_server.options))  # fmt: skip
        assert spool.names("new") == [] and spool.names("claimed") == []
        events = find(ledger.engine, "part-*.bin")
        with ledger.engine.connect() as conn:
            columns = [c for c in events_table.c if c.name != "id"]
            rows = conn.execute(sa.select(*columns)).all()
    assert len(rows) == len(set(rows)), "an event was recorded twice"
    journeys = by_file(events)
    assert len(journeys) == len(expected)
    for (_, name), journey in journeys.items():
        kinds = Counter(e.kind for e in journey)
        assert kinds[Kind.MOVED] == 1, (name, journey)  # moved to cur/ once: recorded once
        if receipts:  # received once, whichever shipment's commit or recovery wrote it
            assert kinds[Kind.RECEIVED] == 1 and journey[0].kind is Kind.RECEIVED, journey
        assert 1 <= kinds[Kind.DELIVERED] <= kinds[Kind.CLAIMED], (name, journey)
        assert journey[-1].kind is Kind.MOVED
        assert journey[-2].kind is Kind.DELIVERED
        assert journey[-2].checksum == _sha256((ftp_server.root / name).read_bytes())
        assert journey[-2].checksum == _sha256(expected[name])
        assert verdict(journey).startswith("delivered to ")
    assert list((state / "provenance").iterdir()) == []


def test_checksums_match_the_objects_on_s3(s3_server: Any, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    contents = {f"obj-{n}.bin": os.urandom(1000 + n) for n in range(3)}
    for name, data in contents.items():
        spool.publish_bytes(data, name)
    with Ledger.open(tmp_path / "state") as ledger:
        result = Runner(ledger).run(
            ShipJob(spool.root, s3_server.url, target_options=s3_server.options)
        )
        assert result.ok, result.error
        journeys = by_file(find(ledger.engine, "obj-*"))
    for (_, name), journey in journeys.items():
        delivered = next(e for e in journey if e.kind is Kind.DELIVERED)
        key = f"{s3_server.prefix}/{name}"
        remote = s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)
        body = remote["Body"].read()
        assert delivered.checksum == _sha256(body) == _sha256(contents[name])
        assert delivered.details["remote_checksum"] == "md5:" + hashlib.md5(body).hexdigest()
        assert verdict(journey).endswith("checksum matches")


def test_no_secret_reaches_an_event(ftp_server: Any, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"x", "a.csv")
    spool.publish_bytes(b"y", "b.csv")
    (ftp_server.root / "b.csv").write_bytes(b"taken")
    password = ftp_server.password
    host = f"{ftp_server.host}:{ftp_server.port}"
    url = f"ftp://{ftp_server.user}:{password}@{host}/{ftp_server.folder}"
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with Recorder(engine, state_dir=tmp_path / "state") as recorder:
        shipper = Shipper(spool, url, options=ShipOptions(conflict="fail"), recorder=recorder)
        with pytest.raises(RemoteExists):
            shipper.run()
    assert spool.names("cur") == ["a.csv"] and spool.names("new") == ["b.csv"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events_table)).all()
    engine.dispose()
    # a.csv: its delivery's row (claim and move kept in it); b.csv: its claim, its failure.
    assert sorted(row.kind for row in rows) == ["claimed", "delivered", "failed"]
    text = repr(rows)
    assert password not in text and password.encode("unicode_escape").decode() not in text
    assert ftp_server.user in text  # the URL is there, masked


def test_fetched_files_are_received_from_where_they_came(ftp_server: Any, tmp_path: Path) -> None:
    (ftp_server.root / "in.csv").write_bytes(b"1,2,3\n")
    spool = Spool(tmp_path / "inbox").prepare()
    with Ledger.open(tmp_path / "state") as ledger:
        result = Runner(ledger).run(
            FetchJob(spool.root, ftp_server.url, target_options=ftp_server.options)
        )
        assert result.ok, result.error
        (event,) = find(ledger.engine, "in.csv")
    assert event.kind is Kind.RECEIVED and event.size == 6
    assert event.place == os.path.realpath(spool.root)
    assert event.details["source"] == f"{ftp_server.url}/in.csv"
    assert ftp_server.password not in json.dumps(event.as_json())


def test_a_fetched_file_is_hashed_as_it_is_downloaded_and_never_read_again(
    ftp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(14).randbytes(3 * 1024 * 1024 + 17)  # several blocks
    (ftp_server.root / "big.bin").write_bytes(data)
    reads: list[object] = []
    monkeypatch.setattr(trail, "sha256_of", lambda src: reads.append(src) or "sha256:wrong")
    spool = Spool(tmp_path / "inbox").prepare()
    drop = tmp_path / "drop"
    drop.mkdir()
    with Ledger.open(tmp_path / "state") as ledger:
        runner = Runner(ledger)
        fetched = runner.run(
            FetchJob(spool.root, ftp_server.url, target_options=ftp_server.options)
        )
        assert fetched.ok, fetched.error
        assert runner.run(ShipJob(spool.root, drop.as_uri())).ok
        journey = find(ledger.engine, "big.bin")
    checksum = "sha256:" + hashlib.sha256(data).hexdigest()
    kinds = [e.kind for e in journey]
    assert kinds == [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    assert journey[0].checksum == journey[1].checksum == journey[2].checksum == checksum
    assert reads == []  # the claim took it from the receipt


def test_an_events_journey_from_archive_to_ftp_under_the_lock_protocol(
    ftp_server: Any, tmp_path: Path
) -> None:
    """spool ← archive sealed and handed off → shipped to FTP with the lock protocol → cur/."""
    from entrepot.archive import ArchiveReader, RollingWriter

    state = tmp_path / "state"
    spool = Spool(tmp_path / "outbox").prepare()
    writer = RollingWriter(
        tmp_path / "archives", "events-{seq}.arc", compression="zstd", spool=spool,
        provenance=state,
    )  # fmt: skip
    for number in range(50):
        writer.write({"kind": "reading"}, {"value": number})
    writer.close()
    (name,) = spool.names("new")
    with Ledger.open(state) as ledger:
        result = Runner(ledger).run(
            ShipJob(spool.root, ftp_server.url, options=ShipOptions(protocol="lock"),
                    target_options=ftp_server.options)
        )  # fmt: skip
        assert result.ok, result
        journeys = by_file(find(ledger.engine, name))

    on_server = ftp_server.root / name
    assert sorted(os.listdir(ftp_server.root)) == [name]  # the lock file is gone
    with ArchiveReader(on_server) as reader:
        assert [record.payload["value"] for record in reader] == list(range(50))
        header = reader.header
    checksum = _sha256(on_server.read_bytes())

    archive = journeys[os.path.realpath(tmp_path / "archives"), name]
    assert [event.kind for event in archive] == [Kind.ARCHIVED, Kind.SEALED, Kind.HANDED_OFF]
    assert header is not None
    assert archive[0].details == {"archive": header.archive_id.hex}
    details = {"compression": "zstd", "records": 50, "archive": header.archive_id.hex}
    assert archive[1].details == details
    shipped = journeys[os.path.realpath(spool.root), name]
    assert [event.kind for event in shipped] == [
        Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED,
    ]  # fmt: skip
    # One checksum all the way, equal to the bytes on the server: computed once, as sealed.
    assert {archive[1].checksum, shipped[0].checksum, shipped[1].checksum} == {checksum}
    assert shipped[2].details["remote_size"] == on_server.stat().st_size
    assert shipped[3].details == {"to": "cur"}
    assert spool.names("cur") == [name]
    assert verdict(shipped).startswith(f"delivered to {ftp_server.url} at ")
    assert ftp_server.password not in json.dumps([event.details for event in shipped])
