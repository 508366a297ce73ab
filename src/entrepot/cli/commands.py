"""The command table: every ``entrepot`` command, its module and its one-line help.

The root command knows its commands from :data:`COMMANDS` alone and imports
a command's module only when that command runs (or its own ``--help`` is
asked for): ``entrepot status`` never imports the data center, and
``entrepot --help`` or a shell completion of the first word imports no
command module at all.  A module adds its commands with ``register(app)``
(on a :class:`typer.Typer` of its own); a test checks that each line below
is the first paragraph of the help of the command it names.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from entrepot.cli.values import plain_values

__all__ = ["COMMANDS", "CommandEntry", "LazyGroup", "load_module_commands", "resolve_annotations"]


class CommandEntry(NamedTuple):
    """A command of the root: its name, the module in ``entrepot.cli`` that registers it,
    and the first paragraph of its help."""

    name: str
    module: str
    summary: str


#: The root's commands, in the order ``--help`` lists them.
COMMANDS = (
    CommandEntry(
        "demo",
        "demo",
        "Run the service on a starter configuration with its dashboard, and feed it.",
    ),
    CommandEntry(
        "status",
        "status",
        "Show spools (waiting, in flight, done), routes, the service, and jobs (backlog, dead).",
    ),
    CommandEntry("put", "targets", "Upload files to a target URL (atomic publish)."),
    CommandEntry("ls", "targets", "List a target folder."),
    CommandEntry("get", "targets", "Download one file from a target URL."),
    CommandEntry("check", "targets", "Check that a target works: connect, write, read, delete."),
    CommandEntry(
        "ship",
        "ship",
        "Deliver every file waiting in the spool's new/ to URL, then move it to cur/.",
    ),
    CommandEntry(
        "fetch",
        "ship",
        "Download every file of a remote folder into the spool, then delete it remotely.",
    ),
    CommandEntry(
        "spool",
        "spool",
        "Durable tmp/ → new/ → cur/ folders: put files in, claim them, mark them done.",
    ),
    CommandEntry(
        "archive", "archive", "Rolling event archives: write events, read them back, check them."
    ),
    CommandEntry(
        "trace",
        "trace",
        "Show where files went: every step of their journey, and a verdict.",
    ),
    CommandEntry(
        "receipt",
        "trace",
        "Write a delivery receipt: each file a route delivered, where, when, with checksums.",
    ),
    CommandEntry("jobs", "jobs", "Jobs and their runs, from the ledger."),
    CommandEntry("backlog", "jobs", "Jobs waiting to be re-run: list, retry, drop."),
    CommandEntry(
        "dc",
        "dc",
        "The data center: CSV uploads, validated imports into tables, exports and logs.",
    ),
    CommandEntry(
        "serve", "service", "Run every route, fetch and chore of the configuration until stopped."
    ),
    CommandEntry(
        "reload", "service", "Ask the running service to re-read its configuration (SIGHUP)."
    ),
    CommandEntry(
        "validate",
        "service",
        "Check a configuration file: every problem at once, with its line and a hint.",
    ),
    CommandEntry("init", "service", "Write a commented starter configuration that runs as it is."),
)


def load_module_commands(module: str, name: str | None = None) -> dict[str, Any]:
    """The click commands that ``entrepot.cli.<module>`` registers, by name.

    With ``name``, only that command is built (when the module registers it
    under that name): typer reads every parameter of every command it builds.
    """
    commands = typer.Typer()
    importlib.import_module(f"{__package__}.{module}").register(commands)
    if name is not None:
        _keep_only(commands, name)
    resolve_annotations(commands)
    group = typer.main.get_group(commands)
    plain_values(group)
    return dict(group.commands)


def _keep_only(commands: typer.Typer, name: str) -> None:
    """Drop what ``commands`` registered under other names (nothing if ``name`` is not found)."""
    wanted = [info for info in commands.registered_commands if info.name == name]
    groups = [info for info in commands.registered_groups if _group_name(info) == name]
    if wanted or groups:
        commands.registered_commands = wanted
        commands.registered_groups = groups


def resolve_annotations(commands: typer.Typer) -> None:
    """Turn the callbacks' annotations from text into the objects they name, once.

    The command modules postpone annotations (``from __future__ import
    annotations``); typer reads each callback's several times, evaluating the
    text every time — more than half of what building a command costs.
    """
    callbacks = [getattr(commands.registered_callback, "callback", None), commands.info.callback]
    callbacks += [info.callback for info in commands.registered_commands]
    for callback in callbacks:
        if callable(callback):
            _resolved(callback)
    for group in commands.registered_groups:
        if group.typer_instance is not None:
            resolve_annotations(group.typer_instance)


def _resolved(function: Callable[..., Any]) -> None:
    target = inspect.unwrap(function)
    if not any(isinstance(value, str) for value in target.__annotations__.values()):
        return
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except (NameError, TypeError):
        return  # left to typer, which reports it as it always has
    target.__annotations__ = hints
    if function is not target:
        function.__annotations__ = hints


def _group_name(info: Any) -> Any:
    # ``add_typer(app)`` leaves the name to the added Typer; ``add_typer(app, name=…)`` sets it.
    name = info.name if isinstance(info.name, str) else None
    return name or info.typer_instance.info.name


class LazyGroup(TyperGroup):
    """The root group: lists :data:`COMMANDS` at once, imports a command when it is used.

    Until then each command is a stand-in that carries only its name and
    summary: enough to list it in ``--help`` and in shell completions.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._modules = {entry.name: entry.module for entry in COMMANDS}
        self._listing = False
        for entry in COMMANDS:
            self.commands.setdefault(entry.name, TyperCommand(entry.name, help=entry.summary))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = self._modules.get(cmd_name)
        if module is not None and not self._listing:
            # The real command replaces its stand-in.
            self.commands.update(load_module_commands(module, cmd_name))
            del self._modules[cmd_name]
        return super().get_command(ctx, cmd_name)

    @contextmanager
    def _summaries(self) -> Iterator[None]:
        """While listing every command (help, completion), keep the stand-ins."""
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._summaries():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        with self._summaries():
            return super().shell_complete(ctx, incomplete)
