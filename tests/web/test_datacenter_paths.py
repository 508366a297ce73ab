"""Downloads come only from the data center's own folders (issue 15, security).

Hostile names — ``..``, absolute paths, separators, NUL and control
characters, hidden names — and hostile files — a symbolic link planted in
the folder (to a file outside or inside), a hard link, a folder, an area
folder replaced by a link — are all refused; the HTTP tests send the same
names percent-encoded (``test_datacenter_http.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.interrupts import Terminated
from entrepot.web.dc_paths import Missing, Refused, attachment, open_download

HOSTILE_NAMES = [
    "../schema.toml",
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "",
    "a/b.csv",
    "..\\x.csv",
    "x.csv\x00.txt",
    "x\x1b[31m.csv",
    ".state",
    ".hidden.csv",
    "schema.toml",
    "x.csv/",
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "dc"
    for name in ("finished", "unfinished", "deleted", "graduated", "logs", "exports"):
        (root / name).mkdir(parents=True)
    (root / "ok.csv").write_text("a\n1\n")
    (root / "finished" / "done.csv").write_text("a\n")
    (root / "logs" / "datacenter.log").write_text("line\n")
    (root / "schema.toml").write_text("[tables]\n")
    return root


def test_a_file_of_an_area_is_opened(root: Path) -> None:
    handle, size = open_download(root, "pending", "ok.csv")
    with handle:
        assert (handle.read(), size) == (b"a\n1\n", 4)
    handle, _ = open_download(root, "finished", "done.csv")
    handle.close()
    handle, _ = open_download(root, "logs", "datacenter.log")
    handle.close()


def test_a_signal_while_a_file_is_opened_is_not_turned_into_another_error(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for a spool's files (tests/unit/test_spool_crash.py): io.open closed the
    # descriptor on its way out; a second close would replace SIGTERM by "bad file
    # descriptor".
    real = os.fdopen

    def interrupted(fd: int, *args: object, **kwargs: object) -> object:
        real(fd, "rb").close()
        raise Terminated("SIGTERM")

    monkeypatch.setattr(os, "fdopen", interrupted)
    with pytest.raises(Terminated):
        open_download(root, "pending", "ok.csv")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("area", ["pending", "finished", "logs"])
def test_hostile_names_are_refused(root: Path, area: str, name: str) -> None:
    with pytest.raises(Refused):
        open_download(root, area, name)


@pytest.mark.parametrize("area", ["..", "/", "", ".state", "finished/..", "schema.toml"])
def test_unknown_areas_are_refused(root: Path, area: str) -> None:
    with pytest.raises(Refused, match="unknown area"):
        open_download(root, area, "ok.csv")


def test_a_missing_file_is_missing(root: Path) -> None:
    with pytest.raises(Missing):
        open_download(root, "pending", "gone.csv")


def test_a_planted_link_is_refused_whether_it_leads_out_or_in(root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("secret\n")
    (root / "out.csv").symlink_to(tmp_path / "secret.csv")
    (root / "in.csv").symlink_to(root / "ok.csv")
    (root / "finished" / "up.csv").symlink_to("../ok.csv")
    (root / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    for area, name in [
        ("pending", "out.csv"),
        ("pending", "in.csv"),
        ("finished", "up.csv"),
        ("pending", "dangling.csv"),
    ]:
        with pytest.raises(Refused):
            open_download(root, area, name)


def test_a_hard_link_and_a_folder_are_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "other.csv").write_text("other\n")
    os.link(tmp_path / "other.csv", root / "hard.csv")
    (root / "folder.csv").mkdir()
    with pytest.raises(Refused, match="other names"):
        open_download(root, "pending", "hard.csv")
    with pytest.raises(Refused, match=r"not a regular file|cannot be served"):
        open_download(root, "pending", "folder.csv")


def test_an_area_folder_replaced_by_a_link_is_refused(root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "loot.csv").write_text("loot\n")
    os.rename(root / "graduated", tmp_path / "old")
    (root / "graduated").symlink_to(elsewhere)
    with pytest.raises(Refused, match="not a folder"):
        open_download(root, "graduated", "loot.csv")


def test_a_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe.csv")
    with pytest.raises(Refused):
        open_download(root, "pending", "pipe.csv")


def test_the_attachment_header_carries_any_name_safely() -> None:
    header = attachment('a "b";\r\nc é.csv')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="a__b____c__.csv"')
    assert header.endswith("filename*=UTF-8''a%20%22b%22%3B%0D%0Ac%20%C3%A9.csv")
