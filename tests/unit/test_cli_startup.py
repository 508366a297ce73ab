"""Start-up: what the short commands import, and the fast paths that keep them short.

Issue 12 (start-up): ``entrepot --version`` imports neither typer nor rich;
importing ``entrepot.cli`` imports no heavy dependency; ``spool put``,
``status`` and ``ship`` with nothing waiting import only what they need —
each checked in a fresh interpreter, the way a user runs them.  Also: the
command table matches the commands; ``ship`` with nothing waiting records
nothing, yet settles a job of its route that waits, and gives back the claims
of dead shippers first.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from entrepot import __version__
from entrepot.cli.commands import COMMANDS, load_module_commands
from entrepot.jobs import Ledger
from entrepot.spool import Spool

#: Never imported by a short command (nor by importing ``entrepot.cli``).
HEAVY = (
    "sqlalchemy",
    "pyarrow",
    "boto3",
    "botocore",
    "paramiko",
    "psycopg",
    "pydantic",
    "importlib.metadata",
    "entrepot.datacenter",
    "entrepot.archive",
    "entrepot.jobs.ledger",
)

# Runs the command in this interpreter, then writes the names of the modules it imported.
_RUN = """
import json, os, sys
from entrepot.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
with open(os.environ["ENTREPOT_TEST_MODULES"], "w") as file:
    json.dump(sorted(sys.modules), file)
sys.exit(code)
"""


def fresh(
    tmp_path: Path, *args: object, **env: str
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``entrepot ARGS`` in a fresh interpreter: the result and the modules it imported."""
    modules = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "ENTREPOT_TEST_MODULES": str(modules), **env},
        timeout=120,
        check=False,
    )
    return done, set(json.loads(modules.read_text())) if modules.exists() else set()


def imported(modules: set[str], *names: str) -> list[str]:
    """Which of ``names`` (or their submodules) are among ``modules``."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


def test_importing_the_command_line_imports_nothing_heavy() -> None:
    code = "import sys, entrepot.cli; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(done.stdout.split())
    assert "entrepot.cli" in modules
    assert imported(modules, *HEAVY, "typer", "rich") == []


@pytest.mark.parametrize("args", [["--version"], ["-v", "--version"], ["-qv", "--version", "ls"]])
def test_version_needs_neither_typer_nor_rich(tmp_path: Path, args: list[str]) -> None:
    done, modules = fresh(tmp_path, *args)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"entrepot {__version__}\n", "")
    assert imported(modules, *HEAVY, "typer", "rich") == []


@pytest.mark.parametrize("args", [["--version", "-h"], ["--bogus", "--version"]])
def test_other_command_lines_with_version_go_through_typer(tmp_path: Path, args: list[str]) -> None:
    done, modules = fresh(tmp_path, *args)
    assert "typer" in modules
    if args[0] == "--version":  # eager, first: typer prints it too
        assert (done.returncode, done.stdout) == (0, f"entrepot {__version__}\n")
    else:
        assert done.returncode == 2 and "No such option" in done.stderr


def test_help_lists_every_command_without_importing_one(tmp_path: Path) -> None:
    done, modules = fresh(tmp_path, "--help", COLUMNS="200")
    assert done.returncode == 0, done.stderr
    for entry in COMMANDS:
        assert f" {entry.name} " in done.stdout and entry.summary in done.stdout
    command_modules = [f"entrepot.cli.{entry.module}" for entry in COMMANDS]
    assert imported(modules, *command_modules, *HEAVY) == []


def test_spool_put_of_one_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool").prepare()
    source = tmp_path / "one.csv"
    source.write_text("a,b\n")
    done, modules = fresh(tmp_path, "spool", "put", spool.root, source)
    assert (done.returncode, done.stdout) == (0, "one.csv\n"), done.stderr
    assert spool.names() == ["one.csv"]
    assert imported(modules, *HEAVY, "rich", "entrepot.ship", "entrepot.targets") == []


def test_put_draws_its_bar_only_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    source = tmp_path / "one.csv"
    source.write_text("a,b\n")
    url = (tmp_path / "drop").as_uri()
    done, modules = fresh(tmp_path, "put", source, url)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "drop" / "one.csv").read_text() == "a,b\n"
    assert imported(modules, *HEAVY, "rich.progress") == []
    # As on a terminal (rich's own switch): the bar's module is loaded and used.
    done, modules = fresh(tmp_path, "put", source, url, TTY_COMPATIBLE="1")
    assert done.returncode == 0, done.stderr
    assert "rich.progress" in modules
    assert "uploading" in done.stderr


def test_status_reads_the_ledger_without_sqlalchemy(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Ledger.open(state).close()  # an empty ledger, as any command that records makes it
    done, modules = fresh(tmp_path, "status", "--state", state, COLUMNS="200")
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout and "backlog" in done.stdout
    assert imported(modules, *HEAVY, "entrepot.ship", "entrepot.targets", "entrepot.spool") == []
    # For a monitoring script: JSON, without rich.
    as_json, modules = fresh(tmp_path, "status", "--state", state, "--json")
    assert json.loads(as_json.stdout)["jobs"]["backlog"] == 0
    assert imported(modules, *HEAVY, "rich") == []


def test_ship_with_nothing_waiting_connects_to_nothing_and_records_nothing(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    state = tmp_path / "state"
    Ledger.open(state).close()
    # A closed port: connecting would fail the run.
    url = "sftp://partner@127.0.0.1:1/drop"
    done, modules = fresh(
        tmp_path, "ship", spool.root, url, "--state", state, "--password-env", "PW", PW="unused"
    )
    assert (done.returncode, done.stdout) == (0, "nothing waiting\n"), done.stderr
    assert imported(modules, *HEAVY, "rich") == []
    listed, _ = fresh(tmp_path, "jobs", "ls", "--state", state, "--json")
    assert json.loads(listed.stdout) == []
    # The configuration is still checked first (exit 3), before anything else.
    unset, _ = fresh(tmp_path, "ship", spool.root, url, "--state", state, "--password-env", "NO")
    assert unset.returncode == 3 and "nothing waiting" not in unset.stdout


def test_a_url_and_a_folder_never_read_the_configuration(tmp_path: Path) -> None:
    """Names are looked up only when one is given: a configuration present costs nothing."""
    spool = Spool(tmp_path / "outbox").prepare()
    drop = tmp_path / "drop"
    drop.mkdir()
    config = tmp_path / "entrepot.toml"
    config.write_text(f'[targets.partner]\nurl = "{drop.as_uri()}"\n')
    state = tmp_path / "state"
    env = {"ENTREPOT_CONFIG": str(config)}
    done, modules = fresh(tmp_path, "ship", spool.root, drop.as_uri(), "--state", state, **env)
    assert (done.returncode, done.stdout) == (0, "nothing waiting\n"), done.stderr
    assert imported(modules, *HEAVY, "entrepot.service") == []
    source = tmp_path / "one.csv"
    source.write_text("a\n")
    put, modules = fresh(tmp_path, "spool", "put", spool.root, source, **env)
    assert put.returncode == 0, put.stderr
    assert imported(modules, *HEAVY, "entrepot.service") == []
    # A name reads the file (and only then brings pydantic in).
    named, modules = fresh(tmp_path, "ship", spool.root, "partner", "--state", state, **env)
    assert named.returncode == 0, named.stderr
    assert "pydantic" in modules and "entrepot.service.config" in modules
    assert os.listdir(drop) == ["one.csv"]


def test_ship_with_nothing_waiting_and_no_ledger_yet_makes_none(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    drop = tmp_path / "drop"
    drop.mkdir()
    state = tmp_path / "state"
    done, _ = fresh(tmp_path, "ship", spool.root, drop.as_uri(), "--state", state, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["job_id"], result["outcome"], result["exit_code"]) == (None, "empty", 0)
    assert not state.exists()


def test_ship_with_nothing_waiting_settles_the_job_of_its_route(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"x", "late.csv")
    drop = tmp_path / "drop"
    state = tmp_path / "state"
    common = ("--state", state, "--max-tries", "1")
    failed, _ = fresh(tmp_path, "ship", spool.root, drop.as_uri(), *common)
    assert failed.returncode != 0
    # The file went another way; the job of the route still waits in the backlog.
    claim = spool.claim()
    assert claim is not None
    claim.done()
    drop.mkdir()
    done, _ = fresh(tmp_path, "ship", spool.root, drop.as_uri(), *common, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["outcome"], result["state"]) == ("empty", "succeeded")
    listed, _ = fresh(tmp_path, "jobs", "ls", "--state", state, "--json")
    [job] = json.loads(listed.stdout)
    assert (job["id"], job["state"], job["runs"]) == (result["job_id"], "succeeded", 2)


def test_ship_gives_back_expired_claims_before_deciding_nothing_waits(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"x", "held.csv")
    held = spool.claim()  # held by this (live) process; a lease of 0 s has run out
    assert held is not None and spool.names() == []
    drop = tmp_path / "drop"
    drop.mkdir()
    done, _ = fresh(tmp_path, "ship", spool.root, drop.as_uri(), "--no-ledger", "--lease", "0s")
    assert done.returncode == 0, done.stderr
    assert "nothing waiting" not in done.stdout
    assert os.listdir(drop) == ["held.csv"] and spool.names("cur") == ["held.csv"]


def test_the_command_table_matches_the_commands() -> None:
    registered: dict[str, Any] = {}
    for module in {entry.module for entry in COMMANDS}:
        for name, command in load_module_commands(module).items():
            assert name not in registered, f"{name} registered twice"
            registered[name] = (module, command)
    assert sorted(registered) == sorted(entry.name for entry in COMMANDS)
    for entry in COMMANDS:
        module, command = registered[entry.name]
        assert module == entry.module, entry.name
        first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        assert entry.summary == first, entry.name
        # Running a command builds that command alone, not its module's others.
        assert list(load_module_commands(entry.module, entry.name)) == [entry.name]


def test_library_modules_a_short_command_reaches_import_their_heavy_parts_lazily() -> None:
    code = (
        "import sys\n"
        "from entrepot.jobs import Job, JobState, Runner, RunResult\n"
        "from entrepot.ship import ShipJob\n"
        "from entrepot.units import parse_size\n"
        "from entrepot.targets import open_target\n"
        "open_target('sftp://u@127.0.0.1:1/x', password_env='HOME')\n"
        "assert parse_size('4096') == parse_size('4096 B') == 4096\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported(set(done.stdout.split()), *HEAVY) == []


def test_every_name_of_the_jobs_package_resolves() -> None:
    import entrepot.jobs as jobs

    assert sorted(jobs._HOME) == sorted(jobs.__all__)
    for name in jobs.__all__:
        assert getattr(jobs, name) is not None, name


COLLECTOR = """
import gc, json, sys
from entrepot import cli
default = gc.get_threshold()
code = cli._main(sys.argv[2:], program=sys.argv[1] == "program")
print(json.dumps([code, default, gc.get_threshold(), gc.get_freeze_count() > 0]))
"""


@pytest.mark.parametrize("program", [True, False])
def test_the_command_s_process_collects_its_youngest_objects_less_often(program: bool) -> None:
    # The command's own process: what it imported is frozen, the youngest collected
    # every 10,000 allocations.  A caller of main() keeps its collector as it was.
    argv = ["program" if program else "caller", "status", "--help"]
    done = subprocess.run(
        [sys.executable, "-c", COLLECTOR, *argv], capture_output=True, text=True, check=True
    )
    code, default, after, frozen = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0 and default[0] == 700
    if program:
        assert after == [10_000, *default[1:]] and frozen
    else:
        assert after == default and not frozen
