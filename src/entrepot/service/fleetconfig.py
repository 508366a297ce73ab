"""The fleet's settings: the instance's name and ``[service.fleet]``.

Several services sharing one ledger (``[service] ledger``, a PostgreSQL
database) are a fleet; each is an *instance* with a name of its own,
``[service] instance``, by default the host's name.  ``[service.fleet]``
says how often each writes its heartbeat, how long what it claims stays its
own without one, and when the fleet view calls an instance silent or a route
stuck (see ``docs/fleet.md``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from entrepot.instances import check_instance, host_instance
from entrepot.units import parse_duration

__all__ = ["FleetConfig", "InstanceName", "default_instance", "instance_name"]


def instance_name(value: str) -> str:
    """``value`` if it can name an instance: letters, digits, ``_``, ``-``, ``.`` (64 at most).

    >>> instance_name("edge-01.example.org")
    'edge-01.example.org'
    >>> instance_name("../x")
    Traceback (most recent call last):
    ...
    ValueError: '../x' is not a usable instance name: letters, digits, '_', '-', '.' (64 at most)
    """
    return check_instance(value)


def default_instance() -> str:
    """The host's name, made a usable instance name (see :mod:`entrepot.instances`)."""
    return host_instance()


#: A validated instance name; a default one too (``$ENTREPOT_INSTANCE`` is checked as the
#: configured name is).
InstanceName = Annotated[str, AfterValidator(instance_name), Field(validate_default=True)]
_Seconds = Annotated[float, BeforeValidator(lambda value: parse_duration(value))]


class FleetConfig(BaseModel):
    """``[service.fleet]``: heartbeats, leases, and what the fleet view flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Seconds between two heartbeats of this instance.
    heartbeat: _Seconds = 10.0
    #: How long a job or key this instance claimed stays its own without a heartbeat.
    lease: _Seconds = 60.0
    #: Heartbeats missed before the fleet view calls an instance silent.
    silent_after: StrictInt = 3
    #: A route with files waiting and no success for this long is shown stuck.
    stuck_after: _Seconds = 3600.0

    @model_validator(mode="after")
    def _ordered(self) -> FleetConfig:
        if self.heartbeat <= 0 or self.lease < 2 * self.heartbeat:
            raise ValueError("fleet: 0 < heartbeat, and lease at least two heartbeats")
        if self.silent_after < 1 or self.stuck_after <= 0:
            raise ValueError("fleet: silent_after is at least 1 and stuck_after longer than 0")
        return self
