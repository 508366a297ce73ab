"""Configurations that read as TOML but can never work: each told as a problem with its line.

A section that is not a table, a value of the wrong type that a lax reading
would have turned into another, a remote name that no file can get, an
interval that keeps an idle service busy, a cron expression with a field
too many, a key the file may not hold, folders that clash — and a file
crafted to make the checking itself slow.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from entrepot.service.loading import SUGGESTIONS, Problem, check_config
from tests.one_route import one_route


def _problems(tmp_path: Path, text: str) -> list[Problem]:
    path = tmp_path / "entrepot.toml"
    path.write_text(text)
    config, problems = check_config(path)
    assert config is None and problems, "the file was taken as it is"
    return problems


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("text", "where", "needle"),
    [
        ('routes = "abc"\n', "routes", "routes"),
        ("routes = [1, 2]\n", "routes", "routes"),
        ("fetches = 3\n", "fetches", "fetches"),
        ('archives = [{ spool = "x" }]\n', "archives", "archives"),
        ('targets = "t"\n[routes.r]\nspool = "s"\ntarget = "t"\nevery = "1h"\n', "targets",
         "targets ="),
        ('[[routes]]\nspool = "out"\n', "routes", "routes"),
        ("service = 3\n", "service", "service"),
        ('[routes]\nr = "x"\n', "routes.r", "r ="),
    ],
)  # fmt: skip
def test_a_section_that_is_not_a_table_is_a_problem_with_its_line(
    tmp_path: Path, text: str, where: str, needle: str
) -> None:
    problems = _problems(tmp_path, text)
    shapes = [p for p in problems if p.where == where]
    assert shapes and "must be a table" in shapes[0].message, problems
    assert shapes[0].line == _line(text, needle)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('every = "1h"', 'every = "1h"\nparallel = true', "valid integer"),
        ('every = "1h"', 'every = "1h"\nretry = { max_tries = true }', "valid integer"),
        ('every = "1h"', 'every = "1h"\nparallel = "2"', "valid integer"),
        ('every = "1h"', 'on_arrival = "yes"', "valid boolean"),
        ('every = "1h"', "on_arrival = 1", "valid boolean"),
        ('every = "1h"', 'every = "1h"\nprovenance = 0', "valid boolean"),
        ('every = "1h"', 'every = "1ms"', "1 s at least"),
        ('state = "state"', 'state = "state"\nscan_every = "0.5s"', "1 s at least"),
        ('every = "1h"', 'cron = "* * * * * *"', "five fields"),
        ('every = "1h"', 'every = "1h"\nremote_name = "../{name}"', "remote_name"),
        ('every = "1h"', 'every = "1h"\nremote_name = "{name}\\u001b[31m"', "control character"),
    ],
)
def test_a_setting_that_can_never_work_is_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    good = one_route(tmp_path)
    text = good.replace(old, new)
    assert text != good
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and message in problems[0].message, problems
    assert problems[0].line == _line(text, new.splitlines()[-1].split(" =")[0])


def test_the_file_it_was_read_from_is_no_key_of_the_file(tmp_path: Path) -> None:
    text = 'source = "/nonexistent/x.toml"\n' + one_route(tmp_path)
    [problem] = _problems(tmp_path, text)
    assert problem.where == "source" and problem.message == "unknown key 'source'"
    unknown = _problems(tmp_path, "sorce = 1\n")[0]
    assert "source" not in (unknown.hint or "")
    path = tmp_path / "entrepot.toml"
    path.write_text(one_route(tmp_path))
    config, _ = check_config(path)
    assert config is not None and config.source == path


def test_a_route_delivering_into_its_own_spool_is_refused(tmp_path: Path) -> None:
    good = one_route(tmp_path)
    for url in (f"file://{tmp_path}/out/new", f"file://{tmp_path}/out", f"file://{tmp_path}/out/"):
        text = good.replace(f'url = "file://{tmp_path}/dest"', f'url = "{url}"')
        [problem] = _problems(tmp_path, text)
        assert problem.where == "routes.r.target" and "spool 'out'" in problem.message
        assert problem.line == _line(text, 'target = "dest"')
    # A folder beside the spool is another folder.
    text = good.replace(f"{tmp_path}/dest", f"{tmp_path}/out-delivered")
    (tmp_path / "entrepot.toml").write_text(text)
    assert check_config(tmp_path / "entrepot.toml")[1] == []


def test_a_fetch_into_the_spool_it_fetches_from_is_refused(tmp_path: Path) -> None:
    text = one_route(tmp_path).replace(f"{tmp_path}/dest", f"{tmp_path}/out/new")
    text = text.replace("[routes.r]", "[fetches.r]")
    [problem] = _problems(tmp_path, text)
    assert problem.where == "fetches.r.target" and "spool 'out'" in problem.message


def test_two_spools_on_one_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "out", target_is_directory=True)
    for path in ("./out/", str(tmp_path / "out"), "link"):
        text = one_route(tmp_path) + f'\n[spools.again]\npath = "{path}"\n'
        [problem] = _problems(tmp_path, text)
        assert problem.where == "spools.again.path" and "spool 'out'" in problem.message
        assert problem.line == _line(text, f'path = "{path}"')


def test_checking_a_crafted_file_takes_no_time(tmp_path: Path) -> None:
    # Lines inside a multi-line string that start like a table or a key, and never end so.
    filler = " " * 6000
    text = f'[service]\nstate = "state"\nnote = """\n[{filler}x\na{filler}x\n[[{filler}]x\n"""\n'
    started = time.perf_counter()
    problems = _problems(tmp_path, text)
    assert time.perf_counter() - started < 5
    assert problems[0].where == "service.note"


def test_did_you_mean_is_asked_for_the_first_problems_only(tmp_path: Path) -> None:
    count = 1500
    text = '[targets.dest]\nurl = "file:///tmp/x"\n' + "".join(
        f'[spools.spool{i:05d}]\npath = "sp/s{i}"\n'
        f'[routes.r{i}]\nspool = "spoul{i:05d}"\ntarget = "dest"\nevery = "1h"\n'
        for i in range(count)
    )
    problems = _problems(tmp_path, text)
    assert len(problems) == count
    guessed = [p for p in problems if "did you mean" in (p.hint or "")]
    assert len(guessed) == SUGGESTIONS
    assert problems[-1].hint == f"add a [spools.spoul{count - 1:05d}] table"
    assert problems[-1].line == _line(text, f'spool = "spoul{count - 1:05d}"')
