"""What routes and fetches of a fleet through S3 add to their configuration sections.

``[routes.NAME]`` takes ``remote_name`` (a template, :mod:`entrepot.ship.naming`)
and ``fleet = true`` — the names ``{instance}/{route}/{yyyy}/{mm}/{dd}/{name}``
and the ``exclusive`` conflict policy unless ``conflict`` is written;
``[fetches.NAME]`` takes ``claims = true`` and ``claim_lease`` (each remote
file claimed in the ledger first: :mod:`entrepot.ship.claimed`).  See
``docs/fleet-s3.md``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, StrictBool, field_validator

from entrepot.errors import ConfigError
from entrepot.ship.naming import check_template
from entrepot.units import parse_duration

__all__ = ["FetchClaiming", "ShipNaming"]

_Seconds = Annotated[float, BeforeValidator(lambda value: parse_duration(value))]


class ShipNaming(BaseModel):
    """A route's remote names: a template, or the fleet's."""

    remote_name: str | None = None
    fleet: StrictBool = False

    @field_validator("remote_name")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        try:
            return None if value is None else check_template(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


class FetchClaiming(BaseModel):
    """A fetch shared by several fetchers, each file claimed once."""

    claims: StrictBool = False
    claim_lease: _Seconds = 300.0

    @field_validator("claim_lease")
    @classmethod
    def _lease(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("claim_lease must be longer than zero")
        return value
