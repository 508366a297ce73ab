"""The ``exclusive`` conflict policy on targets without conditional writes (issue 16).

A name is written once: the same bytes again are kept as identical, other
bytes are RemoteExists and the first copy stays — compared by content where
the protocol gives no checksum.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.errors import RemoteExists
from entrepot.targets import memory, open_target


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_exclusive_writes_once_and_refuses_other_bytes(kind: str, tmp_path: Path) -> None:
    memory.reset()
    url = "memory://excl/drop" if kind == "memory" else str(tmp_path)
    with open_target(url) as target:
        first = target.upload_bytes(b"one\n", "d/a.csv", conflict="exclusive")
        again = target.upload_bytes(b"one\n", "d/a.csv", conflict="exclusive")
        with pytest.raises(RemoteExists, match="under this name; nothing was written"):
            target.upload_bytes(b"two\n", "d/a.csv", conflict="exclusive")  # same size
        assert target.read_bytes("d/a.csv") == b"one\n"
    assert not first.kept and again.kept
