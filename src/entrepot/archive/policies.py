"""Roll policies: when the archive being written is sealed and a new one begun.

A policy looks at the open archive (its size, record count, age and idle
time) and says whether to roll.  Policies combine with ``|`` into
"whichever comes first".  Third parties add policies through the
``entrepot.roll_policies`` entry-point group; :func:`load_policy` finds
built-in and plugged-in policies by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from entrepot.errors import ConfigError
from entrepot.plugins import PluginRegistry

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


@dataclass(frozen=True)
class SizePolicy(_Combinable):
    """Roll once the file holds at least ``max_bytes``."""

    max_bytes: int

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return state.size >= self.max_bytes


@dataclass(frozen=True)
class CountPolicy(_Combinable):
    """Roll once the file holds ``max_records`` records."""

    max_records: int

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return state.records >= self.max_records


@dataclass(frozen=True)
class AgePolicy(_Combinable):
    """Roll once the file has been open for ``seconds``."""

    seconds: float

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return now - state.opened_at >= self.seconds


@dataclass(frozen=True)
class IdlePolicy(_Combinable):
    """Roll once nothing has been written for ``seconds`` (checked by ``tick()`` and writes)."""

    seconds: float

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
        self.idle_after = min(
            (float(getattr(policy, "idle_after", math.inf)) for policy in flat), default=math.inf
        )

    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return any(policy.should_roll(state, now) for policy in self.policies)

    def __repr__(self) -> str:
        return f"AnyOf({', '.join(map(repr, self.policies))})"


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
    except TypeError as exc:
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
