"""The one plug-in loader: registered, built-in (lazy), entry points; hints; duplicates."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint

import pytest

from entrepot import plugins
from entrepot.errors import BackendUnavailable, ConfigError, JobError
from entrepot.plugins import PluginRegistry, load_reference


def _registry(**kwargs: object) -> PluginRegistry[object]:
    return PluginRegistry(
        "widget",
        "entrepot.test_widgets",
        {"json": "json:dumps", "gone": "no_such_module_xyz:thing"},
        extras={"gone": "widgets"},
        **kwargs,  # type: ignore[arg-type]
    )


def test_builtins_are_imported_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _registry()
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    registry.register("hls", "colorsys:rgb_to_hls")
    assert "colorsys" not in sys.modules
    assert registry.load("hls")(1, 0, 0)[0] == 0
    assert "colorsys" in sys.modules
    assert registry.load("json")({}) == "{}"


def test_a_missing_module_names_the_extra_to_install() -> None:
    with pytest.raises(BackendUnavailable, match=r"pip install 'entrepot\[widgets\]'"):
        _registry().load("gone")


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown widget 'nope' \(known: gone, json"):
        _registry().load("nope")
    with pytest.raises(JobError, match="register it"):
        _registry(error=JobError, hint="register it").load("nope")


def test_duplicates_are_refused_unless_replaced() -> None:
    registry = _registry()
    registry.register("a", len)
    registry.register("a", len)  # the same plug-in again: harmless
    with pytest.raises(ConfigError, match="already registered"):
        registry.register("a", max)
    registry.register("a", max, replace=True)
    assert registry.load("a") is max
    registry.unregister("a")
    with pytest.raises(ConfigError):
        registry.load("a")


def test_entry_points_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = EntryPoint(name="Loud", value="builtins:str.upper", group="entrepot.test_widgets")
    monkeypatch.setattr(plugins, "entry_points", lambda group: [plugin])
    registry = _registry(fold_case=True)
    assert registry.load("LOUD")("x") == "X"
    assert "loud" in registry.names()


def test_the_check_refuses_the_wrong_kind_of_object() -> None:
    def must_be_int(value: object) -> int:
        if not isinstance(value, int):
            raise TypeError(f"{value!r} is not a number")
        return value

    registry: PluginRegistry[int] = PluginRegistry(
        "number", "g", {"pi": "math:pi"}, check=must_be_int
    )
    with pytest.raises(ConfigError, match="is not a number"):
        registry.load("pi")


def test_names_are_checked() -> None:
    with pytest.raises(ValueError):
        _registry(name_pattern="[a-z]+").register("Bad Name", len)


def test_references_walk_attributes() -> None:
    assert load_reference("os.path:join.__name__") == "join"
