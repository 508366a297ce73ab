"""The archive pages through the real endpoint: open and sealed files with their record
counts and damage, the last records of a file (escaped, binary shown as bytes, bounded),
and names that are not a section's file — paths, ``..``, links — refused."""

from __future__ import annotations

import os
from pathlib import Path

from entrepot.archive import ArchiveWriter
from entrepot.service.archives import archive_writer
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard

SEALED_NAME = "events-20260101T000000-host-7.events"


def _sealed(path: Path, *payloads: str) -> None:
    """A sealed, uncompressed archive of ``payloads`` at ``path``."""
    writer = ArchiveWriter(path)
    for number, payload in enumerate(payloads):
        writer.write({"n": str(number)}, payload)
    writer.seal()


def test_open_and_sealed_archives_with_counts_and_damage(dashboard: Dashboard) -> None:
    folder = dashboard.root / "archives" / "events"
    writer = archive_writer(dashboard.daemon.config, "events")
    try:
        for number in range(230):
            writer.write({"n": str(number)}, {"number": number})
        writer.flush()
        cur = dashboard.root / "outbox" / "cur"
        wait_until(lambda: len(list(cur.glob("events-*"))) == 2, what="two archives shipped")
        # A damaged archive left in the folder: one flipped byte in a record.
        damaged = folder / SEALED_NAME
        _sealed(damaged, *(f"record {number}" for number in range(3)))
        data = bytearray(damaged.read_bytes())
        data[data.index(b"record 1")] ^= 0x20
        damaged.write_bytes(data)
        viewer = dashboard.client("viewer")
        (summary,) = viewer.get("/api/archives").json()["archives"]
        assert summary["name"] == "events" and summary["spool"] == "outbox"
        assert summary["files"] == {"folder": 2, "new": 0, "cur": 2}
        listing = viewer.get("/api/archives/events").json()
        (opened,) = listing["open"]
        assert opened["check"]["records"] == 30 and opened["check"]["state"] == "open"
        by_name = {f["name"]: f for f in listing["files"]}
        shipped = [f for f in listing["files"] if f["area"] == "cur"]
        assert [f["check"]["records"] for f in shipped] == [100, 100]
        assert all(f["check"]["state"] == "sealed" and f["size"] > 0 for f in shipped)
        bad = by_name[SEALED_NAME]["check"]
        assert bad["state"] == "damaged" and bad["records"] == 2
        assert bad["damage"][0]["reason"] == "record checksum mismatch"
        page = viewer.get("/archives/events")
        assert page.status_code == 200
        assert "record checksum mismatch" in page.text and "damaged" in page.text
        assert viewer.get("/archives").status_code == 200
    finally:
        writer.close()


def test_the_last_records_are_shown_escaped_and_bounded(dashboard: Dashboard) -> None:
    writer = archive_writer(dashboard.daemon.config, "events")
    try:
        writer.write({"who": "<b>bold</b>\x1b[31m"}, b"\x00\x01<script>")
        writer.write({"kind": "text"}, "line one\nline <two>")
        for number in range(40):
            writer.write({"n": str(number)}, {"number": number, "html": "<i>"})
        writer.flush()
        folder = dashboard.root / "archives" / "events"
        (open_file,) = [p.name for p in folder.iterdir() if p.name.endswith(".open")]
        viewer = dashboard.client("viewer")
        base = f"/archives/events/folder/{open_file}"
        data = viewer.get(f"/api{base}", params={"n": "100000"}).json()
        assert data["count"] == 100 and len(data["records"]) == 42
        first = data["records"][0]
        assert first["payload_encoding"] == "base64" and first["payload"] == "AAE8c2NyaXB0Pg=="
        assert first["metadata"] == {"who": "<b>bold</b>\x1b[31m"}
        for odd in ("\u00b2", "9" * 5000, "0"):  # not a count: the default one
            assert viewer.get(f"/api{base}", params={"n": odd}).json()["count"] == 20, odd
        tail = viewer.get(f"/api{base}", params={"n": "3"}).json()["records"]
        assert [r["payload"]["number"] for r in tail] == [37, 38, 39]
        page = viewer.get(base, params={"n": "42"}).text
        assert "00 01 3c 73 63 72 69 70 74 3e" in page  # the bytes, as hex
        assert "&lt;b&gt;bold&lt;/b&gt;\\x1b[31m" in page
        assert "line one\\nline &lt;two&gt;" in page
        assert "<script>" not in page and "<b>" not in page and "\x1b" not in page
    finally:
        writer.close()


def test_names_that_are_not_a_sections_file_are_refused(dashboard: Dashboard) -> None:
    folder = dashboard.root / "archives" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    secret = dashboard.root / "secret.events"
    secret.write_text("not for the dashboard")
    # A link named like an archive, pointing out of the folder.
    os.symlink(secret, folder / "events-20260101T000000-host-1.events")
    _sealed(folder / SEALED_NAME, "ok")
    viewer = dashboard.client("viewer")
    assert viewer.get(f"/api/archives/events/folder/{SEALED_NAME}").status_code == 200
    refused = [
        "/archives/nope",
        "/archives/nope/folder/x.events",
        f"/archives/events/etc/{SEALED_NAME}",
        "/archives/events/folder/events-20260101T000000-host-1.events",
        "/archives/events/folder/%2e%2e",
        "/archives/events/folder/..%2F..%2Fsecret.events",
        "/archives/events/folder/%2E%2E%2F%2E%2E%2Fsecret.events",
        "/archives/events/folder/other.txt",
        "/archives/events/cur/" + SEALED_NAME,
    ]
    for path in refused:
        for prefix in ("", "/api"):
            reply = viewer.get(prefix + path)
            assert reply.status_code == 404, (prefix + path, reply.status_code)
            assert "not for the dashboard" not in reply.text
    listing = viewer.get("/api/archives/events").json()
    assert [f["name"] for f in listing["files"]] == [SEALED_NAME]
    assert Path(folder / SEALED_NAME).exists()
