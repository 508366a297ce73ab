"""The spool: durable, lock-free ``tmp/`` → ``new/`` → ``cur/`` folders.

See :mod:`entrepot.spool.core` for how it works and ``docs/spool.md`` for a tour.
"""

from entrepot.spool.claims import CLAIM_AREA, Claim
from entrepot.spool.core import AREAS, CLAIM_LEASE, STALE_TMP_AGE, Spool
from entrepot.spool.entries import AreaStats, Entry, RecoveryReport
from entrepot.spool.naming import unique_name
from entrepot.spool.writing import Batch, SpoolWriter

__all__ = [
    "AREAS",
    "CLAIM_AREA",
    "CLAIM_LEASE",
    "STALE_TMP_AGE",
    "AreaStats",
    "Batch",
    "Claim",
    "Entry",
    "RecoveryReport",
    "Spool",
    "SpoolWriter",
    "unique_name",
]
