"""Database passwords of ``entrepot dc`` (issue 10, item 9).

A password never shows in output or errors and never reaches the ledger's
job parameters: a ``--db`` URL that carries one (``?password=``, or
``user:pass@`` with an unencoded ``@``) is refused, and the password is taken
by reference — ``--db-password-env``, ``--db-password-file`` (owner-only) or
libpq's own ``PGPASSWORD`` — which a job re-run from the backlog reads again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from entrepot.jobs import JobState, Ledger
from tests.hostile._dc import entrepot, make_root
from tests.servers._common import free_port
from tests.servers.postgres import PostgresServer

SECRET = "Pg@SECRETX"


def dc_commands(root: Path, db: str) -> list[list[object]]:
    return [
        ["dc", "import", "s.csv", "--root", root, "-t", "students", "--db", db],
        ["dc", "export", "students", "--root", root, "--db", db],
        ["dc", "retire", "students", "--root", root, "--where", "status=graduated", "--db", db],
    ]


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u@127.0.0.1:1/db?password={SECRET}",
        f"postgresql://u:{SECRET}@127.0.0.1:1/db",
        f"postgresql://u:ab/cd{SECRET}@127.0.0.1/db",
    ],
)
def test_a_url_with_a_password_is_refused_without_repeating_it(tmp_path: Path, url: str) -> None:
    root = make_root(tmp_path)
    (root / "s.csv").write_text("student_id,name\nS1,Ann\n")
    for command in dc_commands(root, url):
        ran = entrepot(tmp_path, *command)
        assert ran.code == 3, ran.text
        assert "--db-password-env" in ran.err
        assert "SECRETX" not in ran.text
    ran = entrepot(tmp_path, *dc_commands(root, url)[0][:-2], env={"ENTREPOT_DC_DATABASE": url})
    assert ran.code == 3 and "SECRETX" not in ran.text
    # Nothing was recorded, nothing was imported.
    if (tmp_path / "state").exists():
        with Ledger.open(tmp_path / "state") as ledger:
            assert ledger.jobs() == []
    assert (root / "s.csv").exists()


def test_a_password_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    password = tmp_path / "pw"
    password.write_text("s3cret\n")
    password.chmod(0o644)
    ran = entrepot(
        tmp_path, "dc", "export", "students", "--root", root,
        "--db", f"postgresql://u@127.0.0.1:{free_port()}/db", "--db-password-file", password,
    )  # fmt: skip
    assert ran.code == 3 and "chmod 600" in ran.err and "s3cret" not in ran.text


def test_an_unreachable_database_never_shows_the_password(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "s.csv").write_text("student_id,name\nS1,Ann\n")
    url = f"postgresql://u@127.0.0.1:{free_port()}/db?connect_timeout=3"
    ran = entrepot(
        tmp_path, "dc", "import", "s.csv", "--root", root, "-t", "students", "--db", url,
        "--db-password-env", "DC_PW", env={"DC_PW": SECRET},
    )  # fmt: skip
    assert ran.code == 5, ran.text
    assert "SECRETX" not in ran.text
    with Ledger.open(tmp_path / "state") as ledger:
        (job,) = ledger.jobs()
        assert "SECRETX" not in repr(job) and "SECRETX" not in repr(ledger.runs(job.id))
        assert job.params["password_env"] == "DC_PW"


@pytest.mark.server
@pytest.mark.xdist_group("postgres")
def test_passwords_by_reference_reach_postgresql_and_a_backlog_retry(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    database = postgres_server.create_database()
    url = (
        f"postgresql://{postgres_server.user}@{postgres_server.host}:"
        f"{postgres_server.port}/{database}"
    )
    root = make_root(tmp_path)
    pw_file = tmp_path / "pw"
    pw_file.write_text(postgres_server.password + "\n")
    pw_file.chmod(0o600)
    env = {"DC_PW": postgres_server.password}
    base = ["--root", root, "-t", "students", "--db", url]

    # By variable: the import fails (no file yet), waits, and is retried.
    first = entrepot(
        tmp_path, "dc", "import", "a.csv", *base, "--db-password-env", "DC_PW", env=env
    )
    assert first.code == 4, first.text
    (root / "a.csv").write_text("student_id,name\nS1,Ann\n")
    with Ledger.open(tmp_path / "state") as ledger:
        (job,) = ledger.jobs()
    retried = entrepot(tmp_path, "backlog", "retry", job.id, env=env)
    assert retried.code == 0, retried.text

    # By file, and by libpq's own PGPASSWORD.
    (root / "b.csv").write_text("student_id,name\nS2,Bo\n")
    by_file = entrepot(tmp_path, "dc", "import", "b.csv", *base, "--db-password-file", pw_file)
    assert by_file.code == 0, by_file.text
    (root / "c.csv").write_text("student_id,name\nS3,Cy\n")
    by_libpq = entrepot(
        tmp_path, "dc", "import", "c.csv", *base, env={"PGPASSWORD": postgres_server.password}
    )
    assert by_libpq.code == 0, by_libpq.text

    shown = entrepot(tmp_path, "jobs", "ls", "--json")
    assert shown.code == 0 and postgres_server.password not in shown.text
    with Ledger.open(tmp_path / "state") as ledger:
        jobs = ledger.jobs()
        assert {job.state for job in jobs} == {JobState.SUCCEEDED}
        stored = json.dumps([job.params for job in jobs])
    assert postgres_server.password not in stored
    assert os.fspath(pw_file) in stored and "DC_PW" in stored
    exported = entrepot(
        tmp_path, "dc", "export", "students", "--root", root, "--db", url,
        "--db-password-env", "DC_PW", env=env,
    )  # fmt: skip
    assert exported.code == 0 and "exported 3 rows" in exported.out, exported.text
