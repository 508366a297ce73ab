"""The scheme registry: built-ins, plug-ins, lazy imports with install hints."""

from __future__ import annotations

import sys

import pytest

from entrepot.errors import BackendUnavailable, ConfigError
from entrepot.targets import backend_for, open_target, register_backend, schemes
from entrepot.targets.memory import MemoryTarget
from entrepot.targets.registry import BACKENDS


@pytest.fixture(autouse=True)
def _clean_registry() -> object:
    yield
    for scheme in ("scratch", "scratch2", "broken"):
        BACKENDS.unregister(scheme)


def test_builtin_schemes() -> None:
    assert {"file", "memory", "ftp", "ftps", "sftp", "s3"} <= set(schemes())
    assert backend_for("MEMORY") is MemoryTarget


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        open_target("gopher://host/x")
    assert "sftp" in str(caught.value)


def test_missing_library_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "paramiko", None)  # importing it now fails
    monkeypatch.delitem(sys.modules, "entrepot.targets.sftp", raising=False)
    with pytest.raises(BackendUnavailable) as caught:
        backend_for("sftp")
    assert "pip install 'entrepot[sftp]'" in str(caught.value)


def test_register_backend_by_class_and_by_path() -> None:
    register_backend("scratch", MemoryTarget)
    assert backend_for("scratch") is MemoryTarget
    register_backend("scratch2", "entrepot.targets.memory:MemoryTarget")
    target = open_target("scratch2://reg/x")
    assert isinstance(target, MemoryTarget)
    register_backend("broken", "entrepot.targets.memory:reset")
    with pytest.raises(ConfigError):
        backend_for("broken")


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        open_target("memory://x/y", colour="blue")
    assert "colour" in str(caught.value)
    with pytest.raises(ConfigError):
        open_target("memory://x/y?timeout=soon")


def test_the_install_hint_prints_intact_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rich markup once ate "[sftp]" out of the hint.
    from entrepot.cli import main
    from entrepot.cli.console import err

    monkeypatch.setitem(sys.modules, "paramiko", None)
    monkeypatch.delitem(sys.modules, "entrepot.targets.sftp", raising=False)
    monkeypatch.setattr(err, "width", 300)
    code = main(["ls", "sftp://u@127.0.0.1:1/in", "--password-env", "PATH"])
    assert code == 3
    assert "pip install 'entrepot[sftp]'" in capsys.readouterr().err
