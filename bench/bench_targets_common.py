"""Shared pieces of the target benchmarks: the server process, timing, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent


class ServerProcess:
    """bench_targets_servers.py in a child process; ``info`` holds its ports."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServerProcess:
        self.base.mkdir(parents=True, exist_ok=True)
        self._log = open(HERE / ".work" / "bench_targets_servers.log", "wb")
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "bench_targets_servers.py"), str(self.base)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self._proc.stdout is not None
        self.info = json.loads(self._proc.stdout.readline())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"f{n:05}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths
