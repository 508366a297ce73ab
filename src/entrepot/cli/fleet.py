"""``entrepot status --fleet``: every instance sharing the ledger, silent ones, stuck routes.

The instances' heartbeats are read from the ledger — the configuration's
(``[service] ledger``) or the one named by ``--ledger``/``--state`` — and
judged by :func:`~entrepot.service.fleetview.fleet_view` with the
configuration's ``[service.fleet]`` settings (``silent_after`` heartbeats,
``stuck_after`` seconds; their defaults without a configuration).  The exit
code is for monitoring: 1 when an instance is silent, a route is stuck, a
fetched object is in doubt (:mod:`entrepot.ship.landing`) or an instance's
clock is further from the database's than a quarter of the lease, else 0.
On PostgreSQL the beats are judged by the database's clock (each instance's
own offset from it is measured by its beats), not by this host's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from entrepot.cli.console import emit_json, out, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import open_ledger
from entrepot.jobs.fleet import skew_limit
from entrepot.service.fleetconfig import FleetConfig
from entrepot.service.fleetview import fleet_view, objects_in_doubt


def fleet_status(
    file: Path | None, as_json: bool, state: Path | None, ledger_url: str | None
) -> int:
    """Report on the fleet of the ledger; the exit code of ``entrepot status --fleet``."""
    fleet = FleetConfig()
    if file is not None:
        from entrepot.service.loading import load_config

        config = load_config(file)
        fleet = config.service.fleet
        ledger_url = ledger_url or config.service.ledger
        state = state or config.service.state
    with open_ledger(state, ledger_url) as ledger:
        view = fleet_view(
            ledger.instances(),
            datetime.now(UTC),
            silent_after=fleet.silent_after,
            stuck_after=fleet.stuck_after,
            clock_limit=skew_limit(fleet.lease),
            database_now=ledger.database_now(),
        )
        view["in_doubt"] = objects_in_doubt(ledger)
    if as_json:
        emit_json(view)
    else:
        rows = [
            (
                i["name"],
                i["state"],
                i["host"],
                i["version"],
                i["generation"],
                i["beat_age"],
                i["clock"],
                i["waiting"],
            )
            for i in view["instances"]
        ]
        columns = ("Instance", "State", "Host", "Version", "Generation", "Last beat", "Clock",
                   "Waiting")  # fmt: skip
        out.print(table("Fleet", columns, rows))
        clocks = [(c["instance"], c["host"], c["reason"]) for c in view["clocks"]]
        if clocks:
            out.print(table("Clocks", ("Instance", "Host", "Why"), clocks))
        stuck = [(s["instance"], s["route"], s["reason"]) for s in view["stuck"]]
        if stuck:
            out.print(table("Stuck routes", ("Instance", "Route", "Why"), stuck))
        doubt = [(d["holder"], d["host"], d["name"], d["spool"]) for d in view["in_doubt"]]
        if doubt:
            heads = ("Instance", "Host", "Object", "Landing into")
            out.print(table("Fetched objects in doubt", heads, doubt))
    attention = view["silent"] or view["stuck"] or view["in_doubt"] or view["clocks"]
    return ExitCode.FAILED if attention else ExitCode.OK
