"""The verdict of ``entrepot trace`` speaks of a name's latest copy.

A daily file keeps its name: put, shipped, then put again the next day.
The verdict is about the copy received last, not about an earlier copy
that reached the target.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.test_provenance_cli import entrepot


def verdict_of(tmp_path: Path, name: str) -> str:
    (journey,) = json.loads(entrepot(tmp_path, "trace", name, "--json"))
    text = entrepot(tmp_path, "trace", name).splitlines()[-1]
    assert text == f"  → {journey['verdict']}"
    return str(journey["verdict"])


def test_a_name_put_again_after_its_delivery_is_not_delivered(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    orders = tmp_path / "orders.csv"
    orders.write_text("v1\n")
    entrepot(tmp_path, "spool", "put", "--create", "out", orders)
    entrepot(tmp_path, "ship", "out", dest.as_uri())
    assert verdict_of(tmp_path, "orders.csv").startswith(f"delivered to {dest.as_uri()} at ")

    orders.write_text("v2\n")
    entrepot(tmp_path, "spool", "put", "out", orders)
    assert verdict_of(tmp_path, "orders.csv").startswith("not delivered: received at ")

    # The target refuses the new copy: the verdict says so, not the old delivery.
    entrepot(tmp_path, "ship", "out", dest.as_uri(), "--conflict", "fail", "--max-tries", "1",
             expect=6)  # fmt: skip
    assert verdict_of(tmp_path, "orders.csv").startswith("not delivered: failed at ")
    assert (dest / "orders.csv").read_text() == "v1\n"

    (dest / "orders.csv").unlink()
    entrepot(tmp_path, "ship", "out", dest.as_uri())
    assert verdict_of(tmp_path, "orders.csv").startswith(f"delivered to {dest.as_uri()} at ")
    assert (dest / "orders.csv").read_text() == "v2\n"
