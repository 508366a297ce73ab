"""Command-line values converted without pydantic agree with typer's own conversion.

For every parameter of every command (issue 12, start-up): the plain
converter of :mod:`entrepot.cli.values` and typer's conversion give the same
value, or the same error, for the parameter's default and for typical and
wrong command-line values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer._click import Context

from entrepot.cli.app import app
from entrepot.cli.commands import COMMANDS, load_module_commands
from entrepot.cli.values import PlainValue, plain_values

SAMPLES: dict[str, list[Any]] = {
    "str": ["abc", "", "a\udcffb", "ftp://u@host/in"],
    "int": ["0", "12", "-3", "007", "1_000", "x", " 4", 5],
    "float": ["1.5", "2", "-0.5", "1e3", "x", 2],
    "bool": [True, False, "yes"],
    "Path": ["/tmp", "rel/x", "", "~/y", "a\udcffb"],
    "parsed": ["4 KiB", "90", "1h30m", "250ms", "10iB", "never", 3, 2.5],
}


def parameters() -> Iterator[tuple[str, Any, Any]]:
    root = typer.main.get_command(app)
    plain_values(root)
    for param in root.params:
        yield "entrepot", root, param
    modules = {entry.module for entry in COMMANDS}
    for module in sorted(modules):
        for name, command in load_module_commands(module).items():
            for path, sub in _walk(name, command):
                for param in sub.params:
                    yield path, sub, param


def _walk(path: str, command: Any) -> Iterator[tuple[str, Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(f"{path} {name}", sub)


def _kind(param: Any) -> str:
    descriptor = param.type_descriptor
    if descriptor.parameter_info.parser is not None:
        return "parsed"
    annotation = descriptor.annotation
    if descriptor.is_list:
        (annotation,) = annotation.__args__
    return getattr(annotation, "__name__", "other")


def _outcome(conversion: Any, param: Any, ctx: Context, value: Any) -> tuple[str, Any]:
    try:
        return "value", conversion.coerce(value, param=param, ctx=ctx)
    except typer.BadParameter as exc:
        return "error", exc.format_message()


ALL = list(parameters())


@pytest.mark.parametrize(
    ("path", "command", "param"), ALL, ids=[f"{p} {q.name}" for p, _, q in ALL]
)
def test_plain_and_typer_conversions_agree(path: str, command: Any, param: Any) -> None:
    from typer._coercion import build_runtime_param

    assert isinstance(param._runtime_param, PlainValue), path
    ctx = Context(command)
    plain = PlainValue(param.type_descriptor)
    full = build_runtime_param(param.type_descriptor)
    samples = [param.default, None, *SAMPLES.get(_kind(param), [])]
    if param.multiple or param.nargs == -1:
        samples = [param.default, None, (), *[(value, value) for value in samples[2:]]]
    for value in samples:
        assert _outcome(plain, param, ctx, value) == _outcome(full, param, ctx, value), (
            path,
            param.name,
            value,
        )


def test_most_parameters_are_converted_without_pydantic() -> None:
    plain = sum(1 for _, _, param in ALL if param._runtime_param.convert is not None)
    assert plain >= 0.9 * len(ALL)
