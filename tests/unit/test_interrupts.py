"""SIGTERM runs the Ctrl-C clean-up path and exits 143."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from entrepot.cli.exitcodes import ExitCode

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from entrepot.interrupts import Terminated, sigterm_raises

    with sigterm_raises():
        try:
            print("ready", flush=True)
            time.sleep(30)
        except KeyboardInterrupt as exc:
            if isinstance(exc, Terminated):
                # A second SIGTERM during the clean-up must not cut it short.
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)
            print("cleaned", type(exc).__name__, flush=True)
            sys.exit(143 if isinstance(exc, Terminated) else 130)
    """
)


def _stop(sig: int) -> tuple[int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    out, errors = proc.communicate(timeout=30)
    return proc.returncode, out + errors


def test_sigterm_raises_a_keyboard_interrupt_once() -> None:
    code, output = _stop(signal.SIGTERM)
    assert code == 143, output
    assert "cleaned Terminated" in output


def test_sigint_is_unchanged() -> None:
    code, output = _stop(signal.SIGINT)
    assert code == 130, output
    assert "cleaned KeyboardInterrupt" in output


def test_the_command_exits_143_on_sigterm(tmp_path: Path) -> None:
    # `entrepot archive write` reads standard input until it ends: a command
    # that runs until stopped.  It is ready once its first archive exists.
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrepot", "archive", "write", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write('{"n": 1}\n')
    proc.stdin.flush()
    deadline = time.monotonic() + 120
    while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, errors = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.TERMINATED, errors
    assert "Traceback" not in errors
