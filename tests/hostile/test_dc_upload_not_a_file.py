"""Uploading what is not a file: a FIFO, a device, a folder.

``entrepot dc upload`` of a FIFO waited for ever for something to write
into it (and the library's upload of such a path with it), and a folder was
told as bad data (exit 7).  Now the file is opened without waiting and
checked to be a regular file: anything else is a usage error (exit 2), said
before anything is written into the data center or the state folder, and
the library refuses it at once with :class:`UploadRejected`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrepot.cli import main
from entrepot.datacenter import DataCenter
from entrepot.errors import UploadRejected


@contextlib.contextmanager
def fifo_released_after(fifo: Path, seconds: float) -> Iterator[None]:
    """Should a reader wait on ``fifo``, end its wait after ``seconds`` (a writer opens
    and closes it), so that a test of the old behaviour fails rather than hangs."""
    done = threading.Event()

    def release() -> None:
        while not done.wait(seconds):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "students.csv"
    os.mkfifo(path)
    return path


def _stored(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.is_dir())


def test_a_fifo_is_a_usage_error_said_at_once(
    fifo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, state = tmp_path / "dc", tmp_path / "state"
    assert main(["dc", "init", "--root", str(root)]) == 0
    started = time.monotonic()
    with fifo_released_after(fifo, 3.0):
        code = main(["dc", "upload", "--root", str(root), "--state", str(state), str(fifo)])
    said = " ".join(capsys.readouterr().err.split())
    assert time.monotonic() - started < 3.0
    assert code == 2, said
    assert "students.csv' is not a regular file: only files are uploaded" in said
    assert _stored(root) == []
    assert not state.exists()  # no arrival recorded


@pytest.mark.parametrize(("what", "said"), [("folder", "is a folder"), ("device", "is not a")])
def test_a_folder_or_a_device_is_a_usage_error(
    what: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, state = tmp_path / "dc", tmp_path / "state"
    assert main(["dc", "init", "--root", str(root)]) == 0
    source = "/dev/null"
    if what == "folder":
        source = str(tmp_path / "folder.csv")
        os.mkdir(source)
    code = main(["dc", "upload", "--root", str(root), "--state", str(state), source])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert said in err and "only files are uploaded" in err
    assert _stored(root) == []
    assert not state.exists()


def test_the_library_refuses_a_fifo_without_waiting(fifo: Path, tmp_path: Path) -> None:
    center = DataCenter(tmp_path / "dc", create=True)
    started = time.monotonic()
    with fifo_released_after(fifo, 3.0), pytest.raises(UploadRejected) as caught:
        center.upload(fifo, user="alice")
    assert time.monotonic() - started < 3.0
    assert "is not a regular file" in str(caught.value)
    assert _stored(center.root) == []  # not even a temporary file


def test_a_missing_file_is_still_not_found(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    assert main(["dc", "init", "--root", str(root)]) == 0
    code = main(["dc", "upload", "--root", str(root), str(tmp_path / "gone.csv")])
    assert code == 4


def test_a_regular_file_is_uploaded_as_before(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    (tmp_path / "ok.csv").write_text("a\n1\n")
    assert main(["dc", "init", "--root", str(root)]) == 0
    assert (
        main(["dc", "upload", "--root", str(root), "--user", "bo", str(tmp_path / "ok.csv")]) == 0
    )
    assert _stored(root) == ["ok_bo.csv"]
    assert (root / "ok_bo.csv").read_text() == "a\n1\n"
