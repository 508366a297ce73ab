"""The spool: durable, lock-free ``tmp/`` → ``new/`` → ``cur/`` folders.

See :mod:`entrepot.spool.core` for how it works and ``docs/spool.md`` for a tour.
"""

from entrepot.spool.areas import AREAS, CLAIM_AREA, MAX_SPOOL_NAME_BYTES, Areas, spool_name
from entrepot.spool.claims import Claim
from entrepot.spool.core import CLAIM_LEASE, STALE_TMP_AGE, Spool
from entrepot.spool.entries import AreaStats, Entry, RecoveryReport
from entrepot.spool.naming import unique_name
from entrepot.spool.renewal import ClaimRenewer
from entrepot.spool.writing import Batch, SpoolWriter

__all__ = [
    "AREAS",
    "CLAIM_AREA",
    "CLAIM_LEASE",
    "MAX_SPOOL_NAME_BYTES",
    "STALE_TMP_AGE",
    "AreaStats",
    "Areas",
    "Batch",
    "Claim",
    "ClaimRenewer",
    "Entry",
    "RecoveryReport",
    "Spool",
    "SpoolWriter",
    "spool_name",
    "unique_name",
]
