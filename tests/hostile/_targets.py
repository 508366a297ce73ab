"""What the targets' hostile-input tests share: running the command as users do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def entrepot(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``entrepot ARGS`` in its own process; ``env`` adds to (or overrides) ours."""
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )
