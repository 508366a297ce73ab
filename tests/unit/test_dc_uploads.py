"""Uploads: name normalisation and every reason an upload is refused."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter, UploadPolicy, normalise_name
from entrepot.errors import ConfigError, UploadRejected


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    return DataCenter(tmp_path / "dc", create=True)


@pytest.mark.parametrize(
    ("name", "user", "expected"),
    [
        ("students.csv", "alice", "students_alice.csv"),
        ("my  new students.CSV", "bob", "my_new_students_bob.csv"),
        ("data.csv.gz", None, "data.csv.gz"),
        ("DATA.CSV.GZ", "x", "DATA_x.csv.gz"),
        ("a" * 300 + ".csv", "carol", "a" * 58 + "_carol.csv"),
    ],
)
def test_names_are_normalised(name: str, user: str | None, expected: str) -> None:
    assert normalise_name(name, user=user) == expected


@pytest.mark.parametrize(
    "name",
    [
        "../escape.csv",
        "a/b.csv",
        "..",
        "",
        ".hidden.csv",
        "nul\x00.csv",
        "bidi\u202e.csv",
        "c:\\x.csv",
        "notes.txt",
        ".csv",
        "evil.csv.exe",
    ],
)
def test_hostile_or_wrong_names_are_refused(center: DataCenter, name: str) -> None:
    with pytest.raises(UploadRejected):
        center.upload(io.BytesIO(b"a\n1\n"), name)
    assert [p.name for p in center.root.iterdir() if p.is_file()] == []


def test_hostile_user_name_is_refused() -> None:
    with pytest.raises(UploadRejected, match="user name"):
        normalise_name("x.csv", user="../root")


def test_upload_from_path_keeps_bytes(center: DataCenter, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"\xef\xbb\xbfid,name\r\n1,Zo\xc3\xab\r\n")
    stored = center.upload(source, user="alice")
    assert stored == center.root / "in_alice.csv"
    assert stored.read_bytes() == source.read_bytes()
    assert [info.name for info in center.files("pending")] == ["in_alice.csv"]


def test_same_name_already_imported_is_refused(center: DataCenter) -> None:
    (center.root / "finished" / "s.csv").write_text("x")
    (center.root / "unfinished" / "t.csv").write_text("x")
    with pytest.raises(UploadRejected, match=r"already imported \(it is in finished/\)"):
        center.upload(io.BytesIO(b"a\n"), "s.csv")
    with pytest.raises(UploadRejected, match="unfinished/"):
        center.upload(io.BytesIO(b"a\n"), "t.csv")
    center.upload(io.BytesIO(b"a\n"), "u.csv")
    with pytest.raises(UploadRejected, match="already waiting"):
        center.upload(io.BytesIO(b"b\n"), "u.csv")
    assert (center.root / "u.csv").read_bytes() == b"a\n"


def test_too_large_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    center = DataCenter(tmp_path / "dc", upload_policy=UploadPolicy(max_bytes=10), create=True)
    with pytest.raises(UploadRejected, match="larger than the limit of 10 bytes"):
        center.upload(io.BytesIO(b"x" * 11), "big.csv")
    assert sorted(p.name for p in center.root.iterdir()) == [
        "deleted",
        "finished",
        "graduated",
        "logs",
        "unfinished",
    ]
    center.upload(io.BytesIO(b"x" * 10), "fits.csv")


def test_empty_upload_is_refused(center: DataCenter) -> None:
    with pytest.raises(UploadRejected, match="empty"):
        center.upload(io.BytesIO(b""), "e.csv")


def test_latin1_is_refused_unless_named(tmp_path: Path) -> None:
    data = "id,name\n1,Zoë\n".encode("latin-1")
    center = DataCenter(tmp_path / "dc", create=True)
    with pytest.raises(UploadRejected, match=r"not valid utf-8-sig text \(byte 12"):
        center.upload(io.BytesIO(data), "l.csv")
    latin = DataCenter(tmp_path / "dc", upload_policy=UploadPolicy(encoding="latin-1"))
    assert latin.upload(io.BytesIO(data), "l.csv").read_bytes() == data


def test_unknown_encoding_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown encoding"):
        UploadPolicy(encoding="klingon")


def test_gzip_uploads_are_checked_inside(center: DataCenter) -> None:
    good = gzip.compress(b"id\n1\n")
    assert center.upload(io.BytesIO(good), "g.csv.gz").read_bytes() == good
    with pytest.raises(UploadRejected, match="not a readable gzip file"):
        center.upload(io.BytesIO(b"not gzip at all"), "h.csv.gz")
    bad_text = gzip.compress(b"id\n\xff\xfe\n")
    with pytest.raises(UploadRejected, match="not valid"):
        center.upload(io.BytesIO(bad_text), "i.csv.gz")


def test_gzip_upload_imports(tmp_path: Path) -> None:
    from entrepot.datacenter import parse_schema

    schema = parse_schema(
        '[tables.t]\nkey = ["id"]\n[tables.t.columns]\nid = { type = "integer" }\n'
    )
    center = DataCenter(tmp_path / "dc", schema=schema, create=True)
    center.upload(io.BytesIO(gzip.compress(b"id\n1\n2\n")), "g.csv.gz")
    result = center.import_file("g.csv.gz", "t")
    assert result.successful == 2
    assert (center.root / "finished" / "g.csv.gz").exists()
    assert (center.root / "finished" / "g.create.finished.csv").read_text() == "id\n1\n2\n"
    center.close()
