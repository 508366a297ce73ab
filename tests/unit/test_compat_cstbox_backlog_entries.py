"""The cstbox backlog's entries at the edges: the longest ids, links, folders, refused ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.compat.cstbox import Backlog

#: The longest id whose entry name (id + ".blog") fits in a file name.
LONGEST = 255 - len(Backlog.FILE_EXTENSION)


@pytest.mark.parametrize("length", [237, 238, 240, LONGEST])
def test_every_id_the_backlog_accepts_can_be_stored(tmp_path: Path, length: int) -> None:
    backlog = Backlog("b", root=tmp_path)
    job_id = "7" * length
    backlog[job_id] = {"n": length}
    assert backlog[job_id] == {"n": length}
    assert list(backlog) == [job_id]
    assert [p.name for p in (tmp_path / "b").iterdir()] == [job_id + ".blog"]


def test_an_id_too_long_for_its_entry_is_refused_before_writing(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    with pytest.raises(ValueError, match="invalid job id"):
        backlog["7" * (LONGEST + 1)] = {}
    assert list((tmp_path / "b").iterdir()) == []


def test_an_entry_linked_to_a_file_outside_is_neither_listed_nor_read(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    backlog["kept"] = 1
    outside = tmp_path / "secret.json"
    outside.write_text('{"secret": 42}')
    (tmp_path / "b" / "link.blog").symlink_to(outside)
    assert list(backlog) == ["kept"] and len(backlog) == 1
    assert "link" not in backlog
    with pytest.raises(KeyError):
        backlog["link"]
    assert dict(backlog.iteritems()) == {"kept": 1}


def test_an_entry_linked_inside_the_folder_is_not_read_either(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    backlog["real"] = {"x": 1}
    (tmp_path / "b" / "alias.blog").symlink_to("real.blog")
    assert list(backlog) == ["real"]
    with pytest.raises(KeyError):
        backlog["alias"]


def test_writing_over_a_linked_entry_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (tmp_path / "b" / "x.blog").symlink_to(outside)
    backlog["x"] = [1]
    assert outside.read_text() == "{}"
    assert backlog["x"] == [1]


def test_a_folder_named_like_an_entry_is_no_entry(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    (tmp_path / "b" / "dir.blog").mkdir()
    assert "dir" not in backlog
    with pytest.raises(KeyError):
        backlog["dir"]
    with pytest.raises(KeyError):
        del backlog["dir"]
    assert list(backlog) == []


@pytest.mark.parametrize("job_id", ["../x", "a b", ".hidden", "", "a/b", 42, None])
def test_an_id_the_backlog_refuses_is_simply_not_in_it(tmp_path: Path, job_id: object) -> None:
    backlog = Backlog("b", root=tmp_path)
    assert (job_id in backlog) is False
