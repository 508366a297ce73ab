"""The end of the ``entrepot`` process (``entrepot.cli.leaving``), each case in a process of
its own: what it owes is done (output flushed, exit handlers run, threads waited for),
its errors are told with an exit code, and the interpreter's teardown is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from entrepot.cli.exitcodes import ExitCode

# An object whose finalizer writes MARK: run by the interpreter's teardown (the module's
# globals cleared), never when the process ends without it.
_PRELUDE = """
import atexit, os, sys, threading, time
from entrepot.cli.leaving import leave

class Torn:
    def __init__(self):
        self.mark = os.environ["MARK"]

    def __del__(self, _os=os):  # builtins may be gone by then: the os module's own
        fd = _os.open(self.mark, _os.O_WRONLY | _os.O_CREAT | _os.O_APPEND, 0o644)
        _os.write(fd, b"torn down\\n")
        _os.close(fd)

kept = Torn()
"""


def environment(tmp_path: Path) -> dict[str, str]:
    """This environment with the finalizer's ``MARK``, output buffered as by default."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**env, "MARK": str(tmp_path / "mark")}


def ending(tmp_path: Path, body: str, **options: object) -> subprocess.CompletedProcess[bytes]:
    """Run ``body`` after the prelude in a fresh interpreter (its ``MARK`` file in
    ``tmp_path``)."""
    return subprocess.run(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(body)],
        env=environment(tmp_path),
        timeout=60,
        check=False,
        **options,  # type: ignore[call-overload]
    )


def marks(tmp_path: Path) -> list[str]:
    mark = tmp_path / "mark"
    return mark.read_text().splitlines() if mark.exists() else []


def test_output_is_flushed_and_the_teardown_skipped(tmp_path: Path) -> None:
    done = ending(tmp_path, "sys.stdout.write('x' * 1_000_000)\nleave(0)", capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"x" * 1_000_000
    assert done.stderr == b""
    assert marks(tmp_path) == []  # no teardown: the finalizer never ran


def test_without_leave_the_teardown_runs(tmp_path: Path) -> None:
    # The check above is worth something: the same object is torn down by a plain exit.
    done = ending(tmp_path, "sys.exit(0)", capture_output=True)
    assert done.returncode == 0
    assert marks(tmp_path) == ["torn down"]


def test_the_exit_code_is_kept(tmp_path: Path) -> None:
    done = ending(tmp_path, "print('partial')\nleave(7)", capture_output=True)
    assert (done.returncode, done.stdout) == (7, b"partial\n")


def test_exit_handlers_run(tmp_path: Path) -> None:
    body = """
    import logging
    handler = logging.FileHandler(os.environ["MARK"] + ".log", delay=False)
    logging.getLogger("leaving").addHandler(handler)
    logging.getLogger("leaving").warning("written at exit")
    atexit.register(lambda: open(os.environ["MARK"], "a").write("handler ran\\n"))
    leave(0)
    """
    done = ending(tmp_path, body, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert marks(tmp_path) == ["handler ran"]
    assert (tmp_path / "mark.log").read_text() == "written at exit\n"


def test_running_threads_are_waited_for(tmp_path: Path) -> None:
    body = """
    def late():
        time.sleep(0.3)
        with open(os.environ["MARK"], "a") as file:
            file.write("thread done\\n")
    threading.Thread(target=late).start()
    leave(3)
    """
    done = ending(tmp_path, body, capture_output=True)
    assert done.returncode == 3
    # Waited for, then the usual end: the teardown ran too.
    assert marks(tmp_path) == ["thread done", "torn down"]


def test_daemon_threads_are_not_waited_for(tmp_path: Path) -> None:
    body = """
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    leave(0)
    """
    done = ending(tmp_path, body, capture_output=True)
    assert done.returncode == 0
    assert marks(tmp_path) == []


def test_a_full_disk_behind_the_output_is_told_never_exit_0(tmp_path: Path) -> None:
    with open("/dev/full", "wb") as full:
        done = ending(tmp_path, "sys.stdout.write('x' * 100)\nleave(0)", stdout=full,
                      stderr=subprocess.PIPE)  # fmt: skip
    assert done.returncode == ExitCode.TEMPORARY
    assert b"the output could not be written: No space left on device" in done.stderr


def test_a_reader_gone_ends_quietly_with_a_failure(tmp_path: Path) -> None:
    body = """
    time.sleep(0.2)  # the reader has closed its end by now
    sys.stdout.write('x' * 100)  # buffered: written by leave()
    leave(0)
    """
    with subprocess.Popen(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(body)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(tmp_path),
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader goes away at once
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == ExitCode.FAILED
    assert err == b""  # no traceback, no "Exception ignored"


@pytest.mark.parametrize(
    ("args", "out"),
    [(["--version"], "entrepot "), (["no-such-command"], "")],
)
def test_the_command_ends_through_leave(tmp_path: Path, args: list[str], out: str) -> None:
    # The console script's path: run() ends the process through leave().
    body = f"""
    from entrepot.cli import run
    sys.argv = ["entrepot", *{args!r}]
    run()
    """
    done = ending(tmp_path, body, capture_output=True, text=True)
    assert done.stdout.startswith(out)
    assert done.returncode == (0 if args == ["--version"] else ExitCode.USAGE)
    assert marks(tmp_path) == []


def test_version_into_a_full_disk_is_told(tmp_path: Path) -> None:
    body = """
    from entrepot.cli import run
    sys.argv = ["entrepot", "--version"]
    run()
    """
    with open("/dev/full", "wb") as full:
        done = ending(tmp_path, body, stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == ExitCode.TEMPORARY
    assert done.stderr.count(b"the output could not be written") == 1  # told once
    assert b"Traceback" not in done.stderr
