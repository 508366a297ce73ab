"""Helpers of the fleet-through-S3 tests: objects put straight into the store, and the
``entrepot`` command run as an edge shipper or a central fetcher in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parents[2] / "src")


def put_objects(folder: Any, names: Sequence[str]) -> None:
    """Store ``name`` → ``b"<name>\\n"`` under the folder's prefix (through boto3)."""
    client = folder.client()

    def put(name: str) -> None:
        key = f"{folder.prefix}/{name}"
        client.put_object(Bucket=folder.bucket, Key=key, Body=f"{name}\n".encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, names))


def entrepot(
    folder: Any, instance: str, *args: str | os.PathLike[str], module: Sequence[str] = ("entrepot",)
) -> subprocess.Popen[bytes]:
    """``entrepot ARGS -o access_key=… --password-env S3_SECRET`` as instance ``instance``
    (``module``: the command run as ``python -m MODULE…`` instead)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((SRC, str(Path(SRC).parent))),
        "ENTREPOT_INSTANCE": instance,
        "S3_SECRET": folder.secret_key,
    }
    command = [sys.executable, "-m", *module, *map(str, args)]
    command += ["-o", f"access_key={folder.access_key}", "--password-env", "S3_SECRET"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )


def fetcher(
    folder: Any, instance: str, spool: Path, ledger: str, *more: str, die_at: str | None = None
) -> subprocess.Popen[bytes]:
    """A central fetch under claims into ``spool``, recorded in ``ledger``; ``die_at``:
    killed by SIGKILL at that point (``tests/integration/_die_at.py``)."""
    state = spool.parent / f"state-{instance}"
    module = ("entrepot",) if die_at is None else ("tests.integration._die_at", die_at)
    return entrepot(
        folder, instance, "fetch", folder.url, spool, "--claims", "--ledger", ledger,
        "--state", state, "--max-tries", "1", *more, module=module,
    )  # fmt: skip


def finished(process: subprocess.Popen[bytes], timeout: float = 600) -> int:
    """Wait for ``process``; its exit code (its error output shown when it failed)."""
    _out, err = process.communicate(timeout=timeout)
    if process.returncode not in (0, -9):
        sys.stderr.write(err.decode(errors="replace"))
    return process.returncode
