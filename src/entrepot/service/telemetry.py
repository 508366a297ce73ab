"""What the service tells its watchers: one small interface between the daemon and metrics.

The daemon calls a :class:`Telemetry` as things happen (a run ended, an
archive was sealed, an import finished, the configuration was loaded); the
HTTP endpoint's Prometheus metrics implement it, and tests may record the
calls.  Values that are a state rather than an event (spool depth, backlog
size) are not pushed here: the metrics read them when scraped.

Calls come from the daemon's worker threads; an implementation must be
thread-safe and must never raise (a metrics fault must not stop delivery).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunSummary:
    """How one run of a route, fetch or import ended."""

    kind: str  # "ship", "fetch", "import"
    name: str  # the route, fetch or upload folder's name in the configuration
    target: str | None  # the target's name (ship, fetch), None for imports
    outcome: str  # an entrepot.jobs.Outcome value: succeeded, empty, failed, interrupted…
    seconds: float
    files: int = 0
    bytes: int = 0
    failed_files: int = 0
    #: Files the run passed over: names no run can ship, left in ``new/``.
    skipped_files: int = 0
    rows_ok: int = 0
    rows_failed: int = 0
    trigger: str = ""  # on_arrival, every, cron, backlog, reload…


class Telemetry:
    """Does nothing; subclasses record what they need. Every method is called from threads."""

    def config_loaded(self, generation: int, ok: bool) -> None:
        """A configuration was read (``ok``) or refused (the previous one stays)."""

    def run_finished(self, run: RunSummary) -> None:
        """A run of a route, fetch or import ended."""

    def archive_sealed(self, archive: str, records: int, size: int) -> None:
        """An archive of ``archive`` was sealed with ``records`` records."""

    def lane_crashed(self, lane: str, error: str) -> None:
        """A run of ``lane`` (``route:NAME``, ``fetch:NAME``, ``backlog``, ``watch``) raised
        before it could be recorded — the ledger's disk full, say: the ledger cannot tell."""

    def lane_ended(self, lane: str) -> None:
        """A run of ``lane`` ended as it should (recorded, or nothing to do): no crash now."""

    def crashed_lanes(self) -> dict[str, dict[str, str]]:
        """The lanes whose last run crashed: each with ``error`` and ``at`` (ISO time)."""
        return {}


@dataclass
class RecordingTelemetry(Telemetry):
    """Keeps every call, for tests and for ``entrepot status`` of a running service."""

    generations: list[tuple[int, bool]] = field(default_factory=list)
    runs: list[RunSummary] = field(default_factory=list)
    seals: list[tuple[str, int, int]] = field(default_factory=list)
    crashes: dict[str, str] = field(default_factory=dict)

    def config_loaded(self, generation: int, ok: bool) -> None:
        self.generations.append((generation, ok))

    def run_finished(self, run: RunSummary) -> None:
        self.runs.append(run)

    def archive_sealed(self, archive: str, records: int, size: int) -> None:
        self.seals.append((archive, records, size))

    def lane_crashed(self, lane: str, error: str) -> None:
        self.crashes[lane] = error

    def lane_ended(self, lane: str) -> None:
        self.crashes.pop(lane, None)

    def crashed_lanes(self) -> dict[str, dict[str, str]]:
        return {lane: {"error": error, "at": ""} for lane, error in dict(self.crashes).items()}
