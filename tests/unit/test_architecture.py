"""docs/architecture.md stays true: its packages exist and import only what it allows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "entrepot"
PAGE = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(?P<name>\w+)` \| (?P<owns>[^|]+) \| (?P<may>[^|]+) \|$")


def _allowed() -> dict[str, set[str] | None]:
    """Package → the packages it may import (``None``: any, but those excluded)."""
    table: dict[str, set[str] | None] = {}
    for line in PAGE.read_text().splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        may = match["may"].strip()
        table[match["name"]] = (
            None if may.startswith("everything") else set(re.findall(r"`(\w+)`", may))
        )
    return table


def _unit(module: str) -> str:
    """``entrepot.spool.core`` → ``spool``; ``entrepot`` itself → ``entrepot``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "entrepot"


def _imports(unit: str) -> set[str]:
    path = SOURCE / unit
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    found: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found.update(_unit(name) for name in names if name.startswith("entrepot."))
    return found - {unit}


def test_every_package_named_exists_and_every_package_is_named() -> None:
    named = set(_allowed())
    assert len(named) > 10
    for name in named:
        assert (SOURCE / name).is_dir() or (SOURCE / f"{name}.py").is_file(), name
    present = {p.name for p in SOURCE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    present |= {p.stem for p in SOURCE.glob("*.py") if not p.stem.startswith("_")}
    assert present <= named, f"not in docs/architecture.md: {sorted(present - named)}"


@pytest.mark.parametrize("unit", sorted(_allowed()))
def test_each_package_imports_only_what_the_page_allows(unit: str) -> None:
    allowed = _allowed()[unit]
    used = _imports(unit)
    if allowed is None:  # the command line: anything but the facades and the test kit
        assert not used & {"compat", "testing"}, used
    else:
        assert used <= allowed, f"{unit} imports {sorted(used - allowed)} (docs/architecture.md)"
