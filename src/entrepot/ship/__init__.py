"""Shipping a spool to a target, and fetching from a target into a spool.

Direct use, one run without retries::

    from entrepot.ship import Shipper, ShipOptions

    report = Shipper("outbox", "ftp://partner@ftp.example.org/drop",
                     options=ShipOptions(protocol="lock"),
                     target_options={"password_env": "PARTNER_PASSWORD"}).run()

As a job, with retries, the ledger and the backlog::

    from entrepot.jobs import Ledger, Runner
    from entrepot.ship import ShipJob

    result = Runner(Ledger.open("state")).run(ShipJob("outbox", url, ...))

See ``docs/shipping.md``.
"""

from entrepot.ship.fetcher import Fetcher
from entrepot.ship.jobs import FetchJob, ShipJob
from entrepot.ship.locks import LockOwner, RemoteLock
from entrepot.ship.observer import Observer
from entrepot.ship.options import AFTER, ORDERS, PROTOCOLS, ShipOptions
from entrepot.ship.route import Report, Route
from entrepot.ship.shipper import Shipper

__all__ = [
    "AFTER",
    "ORDERS",
    "PROTOCOLS",
    "FetchJob",
    "Fetcher",
    "LockOwner",
    "Observer",
    "RemoteLock",
    "Report",
    "Route",
    "ShipJob",
    "ShipOptions",
    "Shipper",
]
