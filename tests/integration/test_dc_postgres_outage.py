"""A PostgreSQL outage in the middle of ``dc import`` (issue 10, item 24c).

The real server is stopped while the import runs (between two chunks, the
importing process held still): the command exits 5 and its job waits in
the backlog.  Once the server is back, ``entrepot backlog retry`` finishes
the import, and the table, the finished and pending rows and the log are
those of a clean import of the same file.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.jobs import JobState, Ledger
from tests.servers.postgres import PostgresServer

pytestmark = [pytest.mark.server, pytest.mark.slow]

SCHEMA = """
[tables.people]
key = ["pid"]
[tables.people.columns]
pid = { type = "integer" }
name = { type = "text", required = true }
score = { type = "decimal" }
"""
ROWS = 40_000


def write_people(path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pid", "name", "score"])
        for number in range(1, ROWS + 1):
            # One row in a hundred fails: the pending file must converge too.
            writer.writerow([number, "" if number % 100 == 0 else f"p{number}", f"{number}.5"])


def make_root(folder: Path) -> Path:
    root = folder / "dc"
    root.mkdir(parents=True)
    (root / "schema.toml").write_text(SCHEMA)
    write_people(root / "people.csv")
    return root


def command(*args: object) -> list[str]:
    return [sys.executable, "-m", "entrepot", *(str(arg) for arg in args)]


def environment(folder: Path, server: PostgresServer) -> dict[str, str]:
    return {**os.environ, "ENTREPOT_STATE_DIR": str(folder / "state"), "PGPW": server.password}


def import_args(root: Path, url: str) -> list[object]:
    return [
        "dc", "import", "people.csv", "--root", root, "-t", "people", "--db", url,
        "--db-password-env", "PGPW", "--chunk-size", 200,
    ]  # fmt: skip


def committed_chunks(engine: sa.Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.text("select count(*) from dc_committed_chunks")).scalar_one()
            )
    except sa.exc.DBAPIError:
        return 0


def end_state(root: Path, engine: sa.Engine) -> tuple[object, ...]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select pid, name, score from people order by pid")).all()
    finished = (root / "finished" / "people.create.finished.csv").read_bytes()
    pending = (root / "people.create.pending.csv").read_bytes()
    log = [
        line.split(" ", 2)[2]
        for line in (root / "logs" / "datacenter.log").read_text().splitlines()
    ]
    return [tuple(row) for row in rows], finished, pending, len(log)


def test_an_import_stopped_by_a_database_outage_converges_after_a_backlog_retry(
    tmp_path: Path, private_postgres_server: PostgresServer
) -> None:
    server = private_postgres_server
    url = f"postgresql://{server.user}@{server.host}:{server.port}/{server.create_database()}"
    watcher = sa.create_engine(server.url(url.rsplit("/", 1)[1]))
    folder = tmp_path / "outage"
    root = make_root(folder)
    env = environment(folder, server)
    importing = subprocess.Popen(
        command(*import_args(root, url)),
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while committed_chunks(watcher) < 3:
            assert importing.poll() is None, importing.communicate()
            assert time.monotonic() < deadline, "no chunk was committed"
            time.sleep(0.02)
        # Hold the import still while the server goes away, then let it run on.
        importing.send_signal(signal.SIGSTOP)
        watcher.dispose()
        server.stop()
        importing.send_signal(signal.SIGCONT)
        out, err = importing.communicate(timeout=180)
    finally:
        if importing.poll() is None:
            importing.kill()
    assert importing.returncode == 5, out + err
    assert "unavailable" in err and server.password not in out + err
    with Ledger.open(folder / "state") as ledger:
        (job,) = ledger.jobs()
        assert job.state is JobState.BACKLOG
        assert ledger.runs(job.id)[-1].transient is True
    assert (root / "people.csv").exists()

    assert server.start().returncode == 0
    retried = subprocess.run(
        command("backlog", "retry", job.id),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert retried.returncode == 0, retried.stdout + retried.stderr
    with Ledger.open(folder / "state") as ledger:
        assert ledger.get(job.id).state is JobState.SUCCEEDED

    # The same file imported in one go, into a database of its own.
    clean_url = f"postgresql://{server.user}@{server.host}:{server.port}/{server.create_database()}"
    clean_folder = tmp_path / "clean"
    clean_root = make_root(clean_folder)
    clean = subprocess.run(
        command(*import_args(clean_root, clean_url)),
        env=environment(clean_folder, server),
        cwd=clean_folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert clean.returncode == 7, clean.stdout + clean.stderr  # the pending rows
    engines = [sa.create_engine(server.url(name.rsplit("/", 1)[1])) for name in (url, clean_url)]
    try:
        after_outage = end_state(root, engines[0])
        in_one_go = end_state(clean_root, engines[1])
    finally:
        for engine in engines:
            engine.dispose()
    assert after_outage == in_one_go
    assert len(after_outage[0]) == ROWS - ROWS // 100 and after_outage[3] == 1
