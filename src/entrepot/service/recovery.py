"""What a start recovers before any work: the ledger's interrupted runs and the spools.

Spools of the configuration that do not exist yet are made.

A service killed with ``kill -9`` (or a power cut) leaves runs marked
*running* in the ledger, files claimed in ``claimed/`` and half-written files
in ``tmp/``; a service stopped past its grace period may leave the same.
None of it is lost, and none of it waits for a lease to run out: the runs
of a process that is gone are recorded as interrupted and their jobs are due
at once, the claims of a dead process of this host go back to ``new/``, and
stale ``tmp/`` files are removed.  Archives left open are sealed by the
archive lane's first pass, right after.

The provenance events that a killed process of this state folder had
journaled but not yet written to the ledger (the last batch of a run), and
the receipts of files put into spools since, are added to the ledger now
(:func:`~entrepot.provenance.recorder.recover_journals`, as ``entrepot
trace`` does before it reads): a file's trace is whole again from the
start, whichever instance runs next.  A failure there is logged and the
service starts all the same: the journals stay, for the next recorder.
"""

from __future__ import annotations

import logging

from entrepot.errors import ConfigError, SpoolError
from entrepot.jobs import Ledger
from entrepot.logs import log_event
from entrepot.service.config import Config
from entrepot.service.preflight import check_folder
from entrepot.spool import Spool

logger = logging.getLogger("entrepot.service")

__all__ = ["ensure_spools", "recover_all", "recover_events"]


def ensure_spools(config: Config) -> None:
    """Make the spools of ``config`` that do not exist yet, as ``entrepot spool init`` would."""
    for name, section in config.spools.items():
        spool = Spool(section.path)
        if not spool.exists():
            check_folder(section.path, f"spool {name!r}")
            try:
                spool.prepare()
            except OSError as exc:
                raise ConfigError(
                    f"spool {name!r}: cannot make {section.path}: {exc.strerror or exc}"
                ) from exc
            log_event(logger, "service.spool_created", spool=name, path=section.path)


def recover_all(config: Config, ledger: Ledger) -> None:
    """Recover the ledger, then every spool of ``config`` that exists."""
    ensure_spools(config)
    jobs = ledger.recover_interrupted()
    if jobs:
        log_event(logger, "service.recovered_jobs", logging.WARNING, jobs=len(jobs),
                  ids=",".join(jobs[:20]))  # fmt: skip
    for name, section in config.spools.items():
        spool = Spool(section.path)
        try:
            report = spool.recover()
        except (SpoolError, OSError) as exc:
            log_event(logger, "service.recovery_failed", logging.ERROR, spool=name, error=exc)
            continue
        if report.claims_released or report.tmp_removed:
            log_event(logger, "service.recovered_spool", logging.WARNING, spool=name,
                      claims=len(report.claims_released),
                      tmp=len(report.tmp_removed))  # fmt: skip
    events = recover_events(config, ledger)
    spools = len(config.spools)
    log_event(logger, "service.recovery_done", logging.DEBUG, jobs=len(jobs), spools=spools,
              events=events)  # fmt: skip


def recover_events(config: Config, ledger: Ledger) -> int:
    """Add the events left in the state folder's journals; how many were added."""
    from entrepot.provenance.journal import JOURNAL_DIR
    from entrepot.provenance.recorder import recover_journals

    try:
        added = recover_journals(ledger.engine, config.service.state / JOURNAL_DIR)
    except Exception as exc:  # noqa: BLE001 - the journals stay for the next recorder
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log_event(logger, "service.recovery_failed", logging.ERROR, what="provenance",
                  error=error)  # fmt: skip
        return 0
    return added  # logged as provenance.recovered
