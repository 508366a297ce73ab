"""Reading a configuration file, and saying everything wrong with it at once.

:func:`check_config` returns every :class:`Problem` of a file — with its
line, where in the file it is, what is wrong, and a hint ("did you mean
'parallel'?", the extra to install, the variable to set) — so ``entrepot
validate`` can show them all; :func:`load_config` raises them together as
:class:`ConfigProblems` (exit 3).  The environment (variables named by
``password_env``, password files, installed backends) is checked by
:func:`environment_problems`, since a file can be right and the machine not
ready for it.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from entrepot.errors import ConfigError
from entrepot.redact import mask_secrets
from entrepot.service.config import UNKNOWN_REFERENCES, Config
from entrepot.service.crosschecks import folder_clashes
from entrepot.service.paths import CONFIG_NAME, default_config_path  # computed without pydantic

__all__ = [
    "CONFIG_NAME",
    "ConfigProblems",
    "Problem",
    "check_config",
    "default_config_path",
    "environment_problems",
    "line_of",
    "load_config",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration, and where."""

    where: str
    message: str
    line: int | None = None
    hint: str | None = None
    file: Path | None = None

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.file and self.line else str(self.file or "")
        text = f"{self.where}: {self.message}" if self.where else self.message
        text = f"{place}: {text}" if place else text
        return mask_secrets(f"{text} ({self.hint})" if self.hint else text)


class ConfigProblems(ConfigError):
    """The configuration has problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{len(problems)} problem(s) in the configuration:\n{lines}")


def load_config(path: str | os.PathLike[str]) -> Config:
    """The configuration in ``path``; :class:`ConfigProblems` lists all that is wrong."""
    config, problems = check_config(path)
    if problems or config is None:
        raise ConfigProblems(problems)
    return config


def check_config(path: str | os.PathLike[str]) -> tuple[Config | None, list[Problem]]:
    """Read and check ``path``: the configuration (if usable) and every problem found."""
    file = Path(path).expanduser().absolute()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = "write one with `entrepot init`"
        return None, [Problem("", f"no configuration file at {file}", hint=hint)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem("", f"cannot read {file}: {exc}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _int(re.search(r"line (\d+)", str(exc)))
        return None, [Problem("", f"not valid TOML: {exc}", line=line, file=file)]
    except RecursionError:  # the parser's own limit: arrays or tables nested hundreds deep
        return None, [Problem("", "not valid TOML: nested too deeply", file=file)]
    lines = _line_index(text)
    data, misshapen = _tables_only(data)
    problems = [
        Problem(".".join(path), message, _line_of(path, lines), hint, file)
        for path, message, hint in [*misshapen, *_reference_problems(data)]
    ]
    try:
        config = Config.model_validate(data, context={"base": file.parent})
    except ValidationError as exc:
        found = (_problem(error, lines, file) for error in exc.errors())
        # Unknown references were reported one by one, with their lines, above.
        problems += [p for p in found if not p.message.startswith(UNKNOWN_REFERENCES)]
        return None, problems
    problems += [
        Problem(".".join(path), message, _line_of(path, lines), hint, file)
        for path, message, hint in folder_clashes(config)
    ]
    if problems:
        return None, problems
    return config.read_from(file), []


def environment_problems(config: Config, env: Mapping[str, str] | None = None) -> list[Problem]:
    """What this machine lacks for ``config``: variables, private files, backends.

    Each problem carries the line of the key it is about when ``config``
    was read from a file.
    """
    from entrepot.service.preflight import endpoint_problems, folder_problems
    from entrepot.service.targetfiles import target_file_problems
    from entrepot.targets.options import check_private_file
    from entrepot.targets.registry import BACKENDS

    env = os.environ if env is None else env
    lines = _lines_of(config.source)
    problems: list[Problem] = []

    def problem(path: tuple[str, ...], message: str, hint: str | None = None) -> None:
        line = _line_of(path, lines)
        problems.append(Problem(".".join(path), message, line, hint, config.source))

    refs: list[tuple[tuple[str, ...], str | None, Path | None]] = [
        (("targets", name), target.password_env, target.password_file)
        for name, target in config.targets.items()
    ]
    if config.datacenter is not None:
        center = config.datacenter
        refs.append((("datacenter",), center.password_env, center.password_file))
    for where, variable, secret_file in refs:
        if variable and variable not in env:
            problem((*where, "password_env"), f"the variable {variable} is not set",
                    "set it, or use password_file")  # fmt: skip
        if secret_file is not None:
            try:
                check_private_file(secret_file, what="password file")
            except (ConfigError, OSError) as exc:
                problem((*where, "password_file"), str(exc), "chmod 600 it, owned by the service")
    for name, target in config.targets.items():
        try:
            BACKENDS.load(target.scheme)
        except ConfigError as exc:
            problem(("targets", name, "url"), str(exc))
        for option, message in target_file_problems(target.url, target.options):
            problem(("targets", name, "options", option), message)
    # What serve would refuse at its start, found by the checks serve runs.
    for where, message in [*folder_problems(config), *endpoint_problems(config)]:
        problem(where, message)
    return problems


def _lines_of(source: Path | None) -> dict[tuple[str, ...], int]:
    if source is None:
        return {}
    try:
        return _line_index(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def line_of(config: Config, *path: str) -> int | None:
    """The line of ``config``'s file where ``path`` (``"targets", "partner", "url"``) is written."""
    return _line_of(path, _lines_of(config.source))


# -- locating problems -------------------------------------------------------------

# Each piece matches what the next cannot, so a line is read in one pass, however
# long: no part of it is tried again in other ways.
_HEADER = re.compile(r"[ \t]*\[\[?(?P<keys>[^\]]*)\]\]?[ \t]*(?:#.*)?")
_ASSIGN = re.compile(r"[ \t]*(?P<keys>[A-Za-z0-9_\-.\"'][A-Za-z0-9_\-.\"' \t]*)=")


def _split_keys(text: str) -> tuple[str, ...]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', text)
    return tuple(next(p for p in part if p) if any(part) else "" for part in parts)


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Each table and key of the file → the line it is written on (1-based)."""
    index: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.fullmatch(line)
        if header and header["keys"].strip():
            table = _split_keys(header["keys"])
            index.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            index.setdefault((*table, *_split_keys(assign["keys"])), number)
    return index


def _line_of(loc: Iterable[Any], lines: Mapping[tuple[str, ...], int]) -> int | None:
    path = tuple(str(part) for part in loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def _problem(error: Any, lines: Mapping[tuple[str, ...], int], file: Path) -> Problem:
    loc = [part for part in error["loc"] if not str(part).startswith("function-")]
    where = ".".join(str(part) for part in loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    hint = None
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
        hint = _did_you_mean(str(loc[-1]), _fields_at(loc[:-1]))
    elif error["type"] == "missing":
        message = f"missing key {loc[-1]!r}"
    return Problem(where, message, _line_of(loc, lines), hint, file)


def _fields_at(loc: list[Any]) -> list[str]:
    """The keys a table at ``loc`` may have, following the models down."""
    model: Any = Config
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            continue  # an entry name of a named section
        model = _model_of(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_of(annotation: Any) -> Any:
    """The model class inside ``annotation`` (``X``, ``X | None``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if arg is not annotation:
            found = _model_of(arg)
            if found is not None:
                return found
    return None


#: Problems that get a "did you mean": each one compares a name with every known one.
SUGGESTIONS = 20


def _did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known keys: {', '.join(sorted(choices))}" if choices else None


#: The sections that are tables of named entries, and the entries' model.
_NAMED = ("targets", "spools", "archives", "routes", "fetches")
_TABLES = ("service", "datacenter")

#: Where in the file (``("routes", "r", "spool")``), what is wrong, a hint.
Found = tuple[tuple[str, ...], str, str | None]


def _tables_only(data: dict[str, Any]) -> tuple[dict[str, Any], list[Found]]:
    """``data`` without the sections and entries that are not tables, and a problem for each.

    ``routes = "abc"``, ``[[routes]]`` or ``[routes] r = 3`` can be no route:
    told once, in words, and left out so nothing else trips on them.
    """
    kept = dict(data)
    found: list[Found] = []
    for section in (*_TABLES, *_NAMED):
        if section in kept and not isinstance(kept[section], dict):
            shape = (
                ", written [{}]" if section in _TABLES else " of entries, each written [{}.NAME]"
            )
            found.append(((section,), f"must be a table{shape.format(section)}", None))
            del kept[section]
    for section in _NAMED:
        entries = kept.get(section)
        if entries is None:
            continue
        bad = [name for name, entry in entries.items() if not isinstance(entry, dict)]
        for name in bad:
            found.append(((section, name), f"must be a table, written [{section}.{name}]", None))
        kept[section] = {n: e for n, e in entries.items() if n not in bad}
    return kept, found


def _reference_problems(data: Mapping[str, Any]) -> list[Found]:
    """A route, fetch or archive naming a spool or target that is not in the file.

    ``data``'s named sections are tables of tables (:func:`_tables_only`).
    """
    found: list[Found] = []
    for section, fields in (
        ("routes", ("spool", "target")),
        ("fetches", ("spool", "target")),
        ("archives", ("spool",)),
    ):
        for name, entry in data.get(section, {}).items():
            for field in fields:
                ref = entry.get(field)
                table = f"{field}s" if field == "spool" else "targets"
                known = data.get(table, {})
                if isinstance(ref, str) and ref not in known:
                    hint = f"add a [{table}.{ref}] table"
                    if len(found) < SUGGESTIONS:
                        hint = _did_you_mean(ref, list(known)) or hint
                    found.append(((section, name, field), f"no {field} named {ref!r}", hint))
    return found


def _int(match: re.Match[str] | None) -> int | None:
    return int(match[1]) if match else None
