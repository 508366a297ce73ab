"""When routes and fetches run, and how often the service looks: the settings of time.

``every`` (an interval), ``cron`` (five fields: minute, hour, day of month,
month, day of week) and ``retry = { max_tries, delay }`` within a run.  An
interval — ``every``, and ``[service] scan_every`` — is one second at least:
a shorter one would keep an idle service busy for nothing, as waking it
costs a look at every folder and the ledger.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator

from entrepot.units import parse_duration

__all__ = ["MIN_INTERVAL", "Duration", "RetryConfig", "Schedule", "interval"]

#: Seconds, written as ``"90s"``, ``"5m"``, ``"1h30m"`` or a number.
Duration = Annotated[float, BeforeValidator(parse_duration)]

#: The shortest ``every`` or ``scan_every``, in seconds.
MIN_INTERVAL = 1.0


def interval(value: float, key: str) -> float:
    """``value`` if it is long enough for ``key``; ValueError otherwise."""
    if value < MIN_INTERVAL:
        raise ValueError(
            f"{key!r} is {value:g} s: it must be {MIN_INTERVAL:g} s at least "
            "(a shorter one keeps an idle service busy)"
        )
    return value


class RetryConfig(BaseModel):
    """How often a run tries again before its job waits in the backlog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tries: StrictInt = Field(default=3, ge=1, le=100)
    delay: Duration = 2.0


class Schedule(BaseModel):
    """When a route or fetch runs: any of the triggers, or several."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: Duration | None = None
    cron: str | None = None
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @field_validator("every")
    @classmethod
    def _long_enough(cls, value: float | None) -> float | None:
        return None if value is None else interval(value, "every")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from datetime import datetime

            from cronsim import CronSim, CronSimError

            wanted = "five fields, e.g. '0 2 * * *'"
            if len(value.split()) != 5:
                raise ValueError(f"not a cron expression: {wanted} (minute hour day month weekday)")
            try:
                CronSim(value, datetime.now(UTC))
            except CronSimError as exc:
                raise ValueError(f"not a cron expression ({exc}): {wanted}") from None
        return value
