"""``entrepot`` for the fleet tests: the command as it is, knowing one more job kind.

``python -m tests.integration.fleet_node serve --config FILE`` runs the real
service with the kind ``fleet-hold`` registered.  A ``fleet-hold`` job
writes ``started/<job>+<instance>+<pid>`` in its folder when a run starts,
waits while the file ``hold`` exists there, then writes
``done/<job>+<instance>+<pid>``: so a test sees which instance ran a job, how
many times, and can keep a run going while it kills its instance.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from entrepot.jobs import Job, JobContext, register_job_kind


class HoldJob(Job):
    kind = "fleet-hold"

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def params(self) -> dict[str, Any]:
        return {"folder": str(self.folder)}

    def produce(self, ctx: JobContext) -> int:
        return 1

    def send(self, ctx: JobContext) -> None:
        instance = ctx.ledger.instance if ctx.ledger is not None else "-"
        tag = f"{ctx.job_id}+{instance}+{os.getpid()}"
        (self.folder / "started" / tag).touch()
        while (self.folder / "hold").exists():
            time.sleep(0.05)
        (self.folder / "done" / tag).touch()


def ran(folder: Path, stage: str) -> list[tuple[str, str]]:
    """(job id, instance) of each run that reached ``stage`` (``started`` or ``done``)."""
    found = [name.split("+")[:2] for name in os.listdir(folder / stage)]
    return sorted((job, instance) for job, instance in found)


if __name__ == "__main__":
    from entrepot.cli import main

    register_job_kind(HoldJob.kind, lambda params: HoldJob(**params))
    sys.exit(main(sys.argv[1:]))
