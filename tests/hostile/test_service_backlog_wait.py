"""A route whose target is down waits for its backlog job, whatever else wakes it.

What was wrong: a periodic scan or a new file that came *while* a failing
run was in progress was kept by the route's lane and run as soon as the
failure ended — before the backlog's wait, which the failure had just set.
The target that was down was tried again at once, each such try counted as
one more failed run, and the job was parked as dead after about half the
configured ``runs``.  (A target whose server is down fails each try at
once; two tries a second apart make each run last long enough for scans and
arrivals to come during it.)  Now a run started by anything but the backlog does not
start while the route's job waits for its next try: the number of runs over
a period is what the back-off says.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from entrepot.jobs import Ledger
from entrepot.service.daemon import Daemon
from entrepot.service.loading import load_config
from entrepot.service.telemetry import RecordingTelemetry
from entrepot.spool import Spool
from tests.integration._service import Service, services_fixture  # noqa: F401
from tests.servers._common import free_port

DELAY = 3.0

CONFIG = """\
[service]
state = "state"
grace = "5s"
scan_every = "1s"
backlog = {{ delay = "{delay}s", max_delay = "{delay}s", runs = 100 }}

[spools.out]
path = "out"

[targets.gone]
url = "{url}"
password_env = "FTP_PW"
options = {{ timeout = 5 }}

[routes.r]
spool = "out"
target = "gone"
on_arrival = true
retry = {{ max_tries = 2, delay = "1s" }}
"""


def test_scans_and_arrivals_during_a_failing_run_do_not_run_it_again_at_once(
    tmp_path: Path, services: list[Service]
) -> None:
    url = f"ftp://test@127.0.0.1:{free_port()}/"  # the server is down: every try fails
    (tmp_path / "entrepot.toml").write_text(CONFIG.format(delay=DELAY, url=url))
    service = Service(tmp_path / "entrepot.toml", {"FTP_PW": "secret"})
    services.append(service)
    service.start()
    spool = Spool(tmp_path / "out")
    began = time.monotonic()
    number = 0
    while time.monotonic() - began < 14:  # a file every half second: arrivals during each run
        spool.publish_bytes(b"x", f"f{number:03d}.csv")
        number += 1
        time.sleep(0.5)
    assert service.stop() == 0

    with Ledger.open(tmp_path / "state") as ledger:
        (job,) = ledger.jobs(kind="ship")
        runs = ledger.runs(job.id)
    starts = [run.started_at for run in runs]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
    # Each run takes a second (two tries), then waits three: four seconds from start to start.
    assert gaps and min(gaps) >= DELAY, [(run.trigger, run.started_at) for run in runs]
    assert 3 <= len(runs) <= 4
    assert job.failures == len(runs)


def test_files_of_a_run_that_failed_before_trying_any_count_as_failed(tmp_path: Path) -> None:
    """A connection refused fails the run before any file is tried: the files waiting
    are the run's failed files in the telemetry (``entrepot_files_total{result="failed"}``)."""
    password = tmp_path / "pw"
    password.write_text("secret")
    password.chmod(0o600)
    url = f"ftp://test@127.0.0.1:{free_port()}/"
    text = CONFIG.format(delay=DELAY, url=url).replace(
        'password_env = "FTP_PW"', 'password_file = "pw"'
    )
    (tmp_path / "entrepot.toml").write_text(
        text.replace('max_tries = 2, delay = "1s"', "max_tries = 1")
    )
    spool = Spool(tmp_path / "out").prepare()
    spool.publish_bytes(b"1", "one.csv")
    spool.publish_bytes(b"2", "two.csv")
    telemetry = RecordingTelemetry()
    service = Daemon(load_config(tmp_path / "entrepot.toml"), telemetry=telemetry, hints=False)
    service.start()  # its first scan finds the files
    try:
        assert service.wait_idle(30)
    finally:
        service.request_stop()
        service.shutdown()
    runs = [run for run in telemetry.runs if run.kind == "ship"]
    assert [(run.outcome, run.files, run.failed_files) for run in runs] == [("failed", 0, 2)]
