"""Everything ``entrepot validate`` checks, beyond the file itself.

:func:`usable_problems` opens (without connecting) every target the way a
route would — an unknown option, a value of the wrong type, a key file that
is missing all show here — and :func:`connect_targets` connects to each
target and lists its folder, read-only, reporting ✓ or ✗ per target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from entrepot.errors import EntrepotError
from entrepot.redact import mask_secrets
from entrepot.service.config import Config
from entrepot.service.loading import Problem, environment_problems, line_of
from entrepot.targets import mask_url, open_target

__all__ = [
    "TargetCheck",
    "all_problems",
    "check_target",
    "connect_targets",
    "usable_problems",
]


@dataclass(frozen=True)
class TargetCheck:
    """How connecting to one target went."""

    name: str
    url: str
    ok: bool
    error: str | None = None
    ms: float | None = None


def usable_problems(config: Config) -> list[Problem]:
    """Targets that cannot be opened with their options (nothing connects)."""
    problems = []
    for name, target in config.targets.items():
        try:
            open_target(target.url, **target.open_options()).close()
        except (EntrepotError, OSError, ValueError) as exc:
            message = mask_secrets(str(exc))
            key = "options" if "option" in message else "url"
            problems.append(
                Problem(
                    f"targets.{name}.{key}",
                    message,
                    line_of(config, "targets", name, key),
                    file=config.source,
                )
            )
    return problems


def all_problems(config: Config) -> list[Problem]:
    """The environment's problems, then the targets' (without repeating a target twice)."""
    found = environment_problems(config)
    named = {p.where.split(".")[1] for p in found if p.where.startswith("targets.")}
    found += [p for p in usable_problems(config) if p.where.split(".")[1] not in named]
    return found


def connect_targets(config: Config) -> list[TargetCheck]:
    """Connect to every target and list its folder; one :class:`TargetCheck` each."""
    return [check_target(config, name) for name in config.targets]


def check_target(config: Config, name: str) -> TargetCheck:
    """Connect to target ``name`` and list its folder, read-only."""
    section = config.targets[name]
    started = time.perf_counter()
    try:
        target = open_target(section.url, **section.open_options())
        try:
            target.connect()
            target.list("")
        finally:
            target.close()
    except (EntrepotError, OSError, ValueError) as exc:
        error = mask_secrets(f"{type(exc).__name__}: {exc}")
        return TargetCheck(name, mask_url(section.url), False, error)
    ms = (time.perf_counter() - started) * 1000
    return TargetCheck(name, mask_url(section.url), True, ms=ms)
