"""Uploads are streamed to disk, bounded while they stream, stored as ``dc upload`` stores."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest

from entrepot.datacenter import DataCenter, UploadPolicy
from entrepot.errors import UploadRejected
from entrepot.web import dc_upload
from tests.web._dc import STUDENTS, make_center

BOUNDARY = "x-boundary-7f3a"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(
    content: bytes, filename: str = "students.csv", fields: Mapping[str, str] | None = None
) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in (fields or {"csrf": "token"}).items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Chunks:
    """A request body in chunks, counting how many were read."""

    def __init__(self, data: bytes, size: int = 1024) -> None:
        self.blocks = [data[i : i + size] for i in range(0, len(data), size)]
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for block in self.blocks:
            self.read += 1
            yield block


def receive(
    chunks: Chunks,
    folder: Path,
    limit: int,
    *,
    length: str | None = None,
    content_type: str = CONTENT_TYPE,
) -> dc_upload.Received:
    async def run() -> dc_upload.Received:
        return await dc_upload.receive(
            chunks.__aiter__(),
            content_type=content_type,
            content_length=length,
            folder=folder,
            limit=limit,
        )

    # A thread of its own: the browser tests' Playwright keeps an event loop running in
    # this worker's main thread, where anyio.run would refuse to start another.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, run).result()


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    return make_center(tmp_path)


def test_an_upload_is_received_and_stored_under_its_normalised_name(center: DataCenter) -> None:
    folder = dc_upload.work_folder(center)
    received = receive(Chunks(body(STUDENTS.encode(), "my students.csv")), folder, 1 << 20)
    assert (received.filename, received.fields) == ("my students.csv", {"csrf": "token"})
    assert received.path.read_bytes() == STUDENTS.encode()
    stored = dc_upload.store(center, received, user="web")
    assert stored.name == "my_students_web.csv"
    assert (center.root / stored.name).read_text() == STUDENTS
    assert stored.checksum.startswith("sha256:") and stored.size == len(STUDENTS)
    assert list(folder.iterdir()) == []


def test_an_upload_over_the_limit_is_refused_while_it_streams(center: DataCenter) -> None:
    folder = dc_upload.work_folder(center)
    chunks = Chunks(body(b"a\n" * 50_000))
    with pytest.raises(UploadRejected, match=r"larger than the limit of 10\.00 kb"):
        receive(chunks, folder, 10 * 1024)
    # Refused a few chunks past the limit, long before the end of the body.
    assert chunks.read < 15 < len(chunks.blocks)
    assert list(folder.iterdir()) == []


def test_a_declared_length_over_the_limit_is_refused_before_reading(center: DataCenter) -> None:
    folder = dc_upload.work_folder(center)
    chunks = Chunks(body(b"a\n"))
    with pytest.raises(UploadRejected, match="larger than the limit"):
        receive(chunks, folder, 1024, length=str(1024 + dc_upload.ENVELOPE + 1))
    assert chunks.read == 0
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        (b"a,b\n", "text/csv", "multipart/form-data"),
        (b"a,b\n", "multipart/form-data", "multipart/form-data"),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\nt\r\n'
            f"--{BOUNDARY}--\r\n".encode(),
            CONTENT_TYPE,
            "holds no file",
        ),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="other"; filename="x.csv"'
            f"\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
            CONTENT_TYPE,
            "one file",
        ),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'.encode()
            + b"t" * 5000
            + f"\r\n--{BOUNDARY}--\r\n".encode(),
            CONTENT_TYPE,
            "too long",
        ),
    ],
)
def test_what_is_not_the_upload_form_is_refused(
    center: DataCenter, data: bytes, content_type: str, says: str
) -> None:
    folder = dc_upload.work_folder(center)
    with pytest.raises(dc_upload.BadForm, match=says):
        receive(Chunks(data), folder, 1 << 20, content_type=content_type)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("filename", "content", "says"),
    [
        ("../escape.csv", b"a\n", "path separator"),
        ("notes.txt", b"a\n", "not a CSV file"),
        ("latin.csv", "name\nJosé\n".encode("latin-1"), "not valid utf-8-sig text"),
        ("empty.csv", b"", "is empty"),
    ],
)
def test_a_bad_upload_is_refused_with_the_reason_and_nothing_is_kept(
    center: DataCenter, filename: str, content: bytes, says: str
) -> None:
    folder = dc_upload.work_folder(center)
    received = receive(Chunks(body(content, filename)), folder, 1 << 20)
    with pytest.raises(UploadRejected, match=says):
        dc_upload.store(center, received, user="web")
    assert list(folder.iterdir()) == []
    assert [p.name for p in center.root.iterdir() if p.is_file()] == ["schema.toml"]


def test_a_gzip_bomb_is_refused_by_its_decompressed_size(tmp_path: Path) -> None:
    center = make_center(tmp_path)
    center.upload_policy = UploadPolicy(max_bytes=64 * 1024)
    bomb = gzip.compress(b"a,b\n" * 100_000)
    assert len(bomb) < 64 * 1024
    received = receive(Chunks(body(bomb, "bomb.csv.gz")), dc_upload.work_folder(center), 64 * 1024)
    with pytest.raises(UploadRejected, match="once decompressed"):
        dc_upload.store(center, received, user=None)
    assert not any(p.name.startswith("bomb") for p in center.root.iterdir())


def test_an_upload_of_a_name_already_imported_is_refused(center: DataCenter) -> None:
    (center.root / "finished" / "students_web.csv").write_text(STUDENTS)
    received = receive(Chunks(body(STUDENTS.encode())), dc_upload.work_folder(center), 1 << 20)
    with pytest.raises(UploadRejected, match="already imported"):
        dc_upload.store(center, received, user="web")
