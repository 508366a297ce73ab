"""A fetch's deferred files are in its report, its summary, its JSON and the service's log.

What was wrong: a fetch that deferred a file — its local name still waiting
in ``new/`` with other content — logged ``fetch.deferred`` and kept the name
in ``Fetcher.deferred``, but the run's report, the command's summary line and
``--json`` said nothing of it: a user saw "0 files" and nothing else, and the
service logged the run like an empty one (at debug level).

What is expected now: the run's :class:`~entrepot.ship.route.Report` holds
each deferred name with its reason; ``entrepot fetch`` says "N deferred" in its
summary, lists each name in its table (escaped, as the others) and under
``deferred`` in ``--json``, and still exits 0; the service's
``service.run_finished`` line of a fetch carries ``deferred=N`` and is logged
at info level.  The store is the real SeaweedFS fixture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from entrepot.ship import Fetcher
from entrepot.ship.fetch_versions import WAITING
from entrepot.spool import Spool
from tests.integration._service import SERVICE, Service, services_fixture  # noqa: F401

pytestmark = [pytest.mark.server]

#: A name rich would read as markup if it were printed as it is.
NAME = "[bold]a.csv"
REMOTE, LOCAL = b"version 1\n", b"version 0\n"  # one size, other bytes


def _waiting(s3_server: Any, root: Path) -> Spool:
    """An object NAME in the bucket, and another file of that name waiting in ``new/``."""
    s3_server.client().put_object(
        Bucket=s3_server.bucket, Key=f"{s3_server.prefix}/{NAME}", Body=REMOTE
    )
    spool = Spool(root / "inbox").prepare()
    spool.publish_bytes(LOCAL, NAME)
    return spool


@pytest.mark.parametrize("fast_put", [True, False], ids=["direct", "boto3"])
def test_the_report_holds_each_deferred_name_and_why(
    s3_server: Any, tmp_path: Path, fast_put: bool
) -> None:
    spool = _waiting(s3_server, tmp_path)
    fetcher = Fetcher(
        spool, s3_server.url, target_options={**s3_server.options, "fast_put": fast_put}
    )
    report = fetcher.run()
    assert report.ok and report.done == [] and not report.failed
    assert report.deferred == {NAME: WAITING} == fetcher.deferred
    assert s3_server.keys() == [NAME]


def _fetch(cli: Any, s3_server: Any, root: Path, *more: str) -> tuple[int, str, str]:
    return cli(
        "fetch", s3_server.url, root / "inbox", "--state", root / "state",
        "-o", f"access_key={s3_server.access_key}", "--password-env", "S3_SECRET", *more,
    )  # fmt: skip


def test_fetch_says_how_many_were_deferred_and_lists_them(
    s3_server: Any, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _waiting(s3_server, tmp_path)
    monkeypatch.setenv("S3_SECRET", s3_server.secret_key)
    code, out, _ = _fetch(cli, s3_server, tmp_path)
    assert code == 0, out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("Fetched: 0 files") and "1 deferred;" in summary, out
    # In the table, under its own name: not taken for markup.
    row = next(line for line in out.splitlines() if "deferred: " in line)
    assert NAME in row and "a different file of that name waits in new/" in row, out
    assert s3_server.keys() == [NAME]


def test_fetch_json_carries_the_deferred_names(
    s3_server: Any, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _waiting(s3_server, tmp_path)
    monkeypatch.setenv("S3_SECRET", s3_server.secret_key)
    code, out, _ = _fetch(cli, s3_server, tmp_path, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["deferred"] == {NAME: WAITING}
    assert result["files"] == [] and result["failed"] == {} and result["exit_code"] == 0


def test_the_service_logs_a_fetch_s_deferred_files(
    s3_server: Any, tmp_path: Path, services: list[Service]
) -> None:
    _waiting(s3_server, tmp_path)
    config = tmp_path / "entrepot.toml"
    config.write_text(
        SERVICE.format(extra="")
        + f"""
[spools.inbox]
path = "inbox"

[targets.store]
url = "{s3_server.url}"
password_env = "S3_SECRET"
options = {{ access_key = "{s3_server.access_key}", timeout = 10, max_attempts = 1 }}

[fetches.from-store]
target = "store"
spool = "inbox"
every = "1s"
retry = {{ max_tries = 1, delay = "0s" }}
"""
    )
    service = Service(config, env={"S3_SECRET": s3_server.secret_key})
    services.append(service)
    service.start()
    service.wait_for("service.run_finished fetch=from-store")
    line = next(
        line for line in service.log().splitlines() if "service.run_finished fetch=" in line
    )
    assert "outcome=succeeded files=0 failed=0 deferred=1" in line, line
    assert service.stop() == 0
    assert s3_server.keys() == [NAME]
