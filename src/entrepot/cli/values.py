"""Command-line values converted without pydantic, where that changes nothing.

typer (0.2x) converts every parameter's value — given or not — through a
pydantic ``TypeAdapter`` built on first use.  Importing pydantic and building
the adapters takes longer than a whole short command (``entrepot status``,
``spool put`` of one file) should.  :func:`plain_values` gives each
parameter of a command tree a converter that handles the plain cases itself
— a ``str``, a ``bool``, an ``int`` within its bounds, a ``float``, a
``Path`` with typer's default checks, a ``parser=`` that accepts the value,
lists of these — and hands anything else (a bad value, a choice, an unusual
annotation) to typer's own conversion, so results and error messages stay
typer's.  A typer without this conversion layer is left alone.

``tests/unit/test_cli_values.py`` checks, for every parameter of every
command, that both conversions agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["plain_values"]

_MISSING = object()
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Path checks that typer's defaults leave off: with any of them, typer converts.
_PATH_CHECKS = ("exists", "writable", "resolve_path", "allow_dash", "path_type")


def plain_values(command: Any) -> None:
    """Give every parameter of ``command`` and its subcommands the plain converter."""
    for param in getattr(command, "params", ()):
        _give_plain_value(param)
    make_help = getattr(command, "get_help_option", None)
    if make_help is not None and not getattr(make_help, "plain", False):
        # The help option is made on first use, with the context's option names.
        def get_help_option(ctx: Any) -> Any:
            option = make_help(ctx)
            if option is not None:
                _give_plain_value(option)
            return option

        get_help_option.plain = True  # type: ignore[attr-defined]
        command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        plain_values(sub)


def _give_plain_value(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(param, "_runtime_param", _MISSING) is None:
        param._runtime_param = PlainValue(descriptor)


class PlainValue:
    """typer's runtime conversion of one parameter, the plain cases done here."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self.convert = _converter(descriptor)
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        if self.convert is not None and not (multiple and isinstance(value, str)):
            converted = self.convert(value)
            if converted is not _MISSING:
                return converted
        return self.typer_conversion().coerce(value, param=param, ctx=ctx)

    def typer_conversion(self) -> Any:
        """typer's own conversion (pydantic), built on first need."""
        if self._typer is None:
            from typer._coercion import build_runtime_param

            self._typer = build_runtime_param(self.descriptor)
        return self._typer


def _converter(descriptor: Any) -> Callable[[Any], Any] | None:
    """A function turning a value into the parameter's (or ``_MISSING``); ``None``: none."""
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    if descriptor.is_file or descriptor.is_choice:
        return None
    if descriptor.is_list:
        (item,) = getattr(annotation, "__args__", (None,))
        one = _leaf(item, info)
        return None if one is None else _each(one)
    return _leaf(annotation, info)


def _leaf(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    if info.parser is not None:
        return _parsed(info.parser)
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation is int:
        return None if info.clamp else _bounded(_integer, info.min, info.max)
    if annotation is float:
        return None if info.clamp else _bounded(_decimal, info.min, info.max)
    if annotation is Path:
        if any(getattr(info, check, None) for check in _PATH_CHECKS):
            return None
        if not (info.file_okay and info.dir_okay):
            return None
        return _readable_path if info.readable else _path
    return None


def _text(value: Any) -> Any:
    return value if isinstance(value, str) else _MISSING


def _flag(value: Any) -> Any:
    return value if isinstance(value, bool) else _MISSING


def _integer(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return _MISSING


def _decimal(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    return _MISSING


def _bounded(
    convert: Callable[[Any], Any], low: float | None, high: float | None
) -> Callable[[Any], Any]:
    def bounded(value: Any) -> Any:
        number = convert(value)
        if number is _MISSING:
            return _MISSING
        if (low is not None and number < low) or (high is not None and number > high):
            return _MISSING  # typer words the refusal
        return number

    return bounded


def _path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    if isinstance(value, str) and value and "\0" not in value:
        return Path(value)
    return _MISSING


def _readable_path(value: Any) -> Any:
    path = _path(value)
    if path is _MISSING:
        return _MISSING
    # typer refuses a path that exists but cannot be read: let it say so.
    if os.path.exists(path) and not os.access(path, os.R_OK):
        return _MISSING
    return path


def _parsed(parser: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parsed(value: Any) -> Any:
        try:
            return parser(value)
        except Exception:  # noqa: BLE001 - typer calls the parser again and words the error
            return _MISSING

    return parsed


def _each(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def each(values: Any) -> Any:
        if not isinstance(values, list | tuple):
            return _MISSING
        items = [convert(value) for value in values]
        return _MISSING if any(item is _MISSING for item in items) else items

    return each
