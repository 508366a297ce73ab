"""Roll policies: when the archive being written is sealed and a new one begun.

A policy looks at the open archive (its size, record count, age and idle
time) and says whether to roll.  Policies combine with ``|`` into
"whichever comes first".  Third parties add policies through the
``entrepot.roll_policies`` entry-point group; :func:`load_policy` finds
built-in and plugged-in policies by name.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from entrepot.errors import ConfigError
from entrepot.plugins import PluginRegistry
from entrepot.units import parse_duration, parse_size

ENTRY_POINT_GROUP = "entrepot.roll_policies"


class ArchiveState(Protocol):
    """What a policy may look at: the open archive."""

    @property
    def size(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def opened_at(self) -> float: ...
    @property
    def last_write_at(self) -> float: ...


@runtime_checkable
class RollPolicy(Protocol):
    """Decides when to roll.  ``now`` is ``time.monotonic()``."""

    def should_roll(self, state: ArchiveState, now: float) -> bool: ...


class _Combinable:
    #: Seconds of idleness after which this policy may roll (inf: never for idleness).
    idle_after = math.inf

    def __or__(self, other: RollPolicy) -> AnyOf:
        return AnyOf(self, other)  # type: ignore[arg-type]


def _checked(policy: object, field: str, read: Any) -> None:
    """Set ``policy``'s ``field`` to its value as ``read`` reads it (a count, a size or a
    duration: given as a number or as text such as ``10MB``, ``30s``); ValueError when it
    is none (a negative size or duration, a count below 1)."""
    try:
        checked = read(getattr(policy, field))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field}: {exc}") from None
    object.__setattr__(policy, field, checked)  # frozen: set once, here


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value > sys.maxsize:
        raise TypeError(f"not a whole number: {value!r}")
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def _size(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, str | int):
        raise TypeError(f"not a size: {value!r}")
    return parse_size(value)


def _seconds(value: Any) -> float:
    if not isinstance(value, str | int | float):
        raise TypeError(f"not a duration: {value!r}")
    return parse_duration(value)


@dataclass(frozen=True)
class SizePolicy(_Combinable):
    """Roll once the file holds at least ``max_bytes`` (a number or a size: ``64MiB``)."""

    max_bytes: int

    def __post_init__(self) -> None:
        _checked(self, "max_bytes", _size)

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return state.size >= self.max_bytes


@dataclass(frozen=True)
class CountPolicy(_Combinable):
    """Roll once the file holds ``max_records`` records."""

    max_records: int

    def __post_init__(self) -> None:
        _checked(self, "max_records", _count)

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return state.records >= self.max_records


@dataclass(frozen=True)
class AgePolicy(_Combinable):
    """Roll once the file has been open for ``seconds`` (a number or a duration: ``1h``)."""

    seconds: float

    def __post_init__(self) -> None:
        _checked(self, "seconds", _seconds)

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return now - state.opened_at >= self.seconds


@dataclass(frozen=True)
class IdlePolicy(_Combinable):
    """Roll once nothing has been written for ``seconds`` (checked by ``tick()`` and writes;
    a number or a duration: ``30s``)."""

    seconds: float

    def __post_init__(self) -> None:
        _checked(self, "seconds", _seconds)

    @property
    def idle_after(self) -> float:  # type: ignore[override]
        return self.seconds

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return state.records > 0 and now - state.last_write_at >= self.seconds


@dataclass(frozen=True)
class NeverPolicy(_Combinable):
    """Never roll: one archive until the writer is closed."""

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return False


class AnyOf(_Combinable):
    """Roll when any of the policies says so ("whichever comes first")."""

    def __init__(self, *policies: RollPolicy) -> None:
        flat: list[RollPolicy] = []
        for policy in policies:
            flat.extend(policy.policies if isinstance(policy, AnyOf) else (policy,))
        self.policies: tuple[RollPolicy, ...] = tuple(flat)
        self.idle_after = min(map(idle_after, flat), default=math.inf)

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return any(policy.should_roll(state, now) for policy in self.policies)

    def __repr__(self) -> str:
        return f"AnyOf({', '.join(map(repr, self.policies))})"


def idle_after(policy: RollPolicy) -> float:
    """The seconds of idleness after which ``policy`` may roll (inf: never for idleness);
    ConfigError when a plugged-in policy gives something else than a number."""
    value = getattr(policy, "idle_after", math.inf)
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"roll policy {type(policy).__name__}: idle_after must be seconds, not {value!r}"
        ) from None


def _policy_class(value: Any) -> Any:
    if not callable(value):
        raise TypeError(f"{value!r} is not a roll policy class")
    return value


#: Name → policy class: the built-ins below, then plug-ins.
POLICIES: PluginRegistry[Any] = PluginRegistry(
    "roll policy",
    ENTRY_POINT_GROUP,
    {
        "size": f"{__name__}:SizePolicy",
        "count": f"{__name__}:CountPolicy",
        "age": f"{__name__}:AgePolicy",
        "idle": f"{__name__}:IdlePolicy",
        "never": f"{__name__}:NeverPolicy",
    },
    check=_policy_class,
)


def load_policy(name: str, **options: Any) -> RollPolicy:
    """The policy called ``name`` (built in, or from the entry-point group), configured."""
    cls = POLICIES.load(name)
    try:
        policy = cls(**options)
    except (TypeError, ValueError) as exc:  # an option it does not have, a value out of range
        raise ConfigError(f"roll policy {name!r}: {exc}") from exc
    if not isinstance(policy, RollPolicy):
        raise ConfigError(f"roll policy {name!r} has no should_roll(state, now) method")
    return policy


def combine(
    *,
    max_bytes: int | None = None,
    max_records: int | None = None,
    max_age: float | None = None,
    max_idle: float | None = None,
    extra: tuple[RollPolicy, ...] = (),
) -> RollPolicy:
    """One policy from the common limits; no limit at all means never roll."""
    parts: list[RollPolicy] = list(extra)
    if max_bytes is not None:
        parts.append(SizePolicy(max_bytes))
    if max_records is not None:
        parts.append(CountPolicy(max_records))
    if max_age is not None:
        parts.append(AgePolicy(max_age))
    if max_idle is not None:
        parts.append(IdlePolicy(max_idle))
    if not parts:
        return NeverPolicy()
    return parts[0] if len(parts) == 1 else AnyOf(*parts)
