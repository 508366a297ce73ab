"""The service: ``entrepot serve`` on arrival, in bulk, and idle.

    .venv/bin/python bench/cmd_serve.py [--parts latency,throughput,idle] [--rate 100]
        [--seconds 60] [--size 4096] [--files 2000] [--parallel 4] [--idle-seconds 60]
        [--rounds 3] [--json FILE]

Parts:

* **latency** — a producer publishes ``--rate`` files a second of
  ``--size`` bytes into a spool for ``--seconds``, while ``entrepot serve``
  ships the spool on arrival to the FTP server.  A checker reads the FTP
  server's folder on its disk every 5 ms and takes each file whose final name
  appears: it checks its SHA-256 against what was published, then removes
  it, as the partner picking files up would (so the remote folder stays the
  size of a real drop folder).  Latency = the file verified on the server −
  the moment its publish call began (the call writes, fsyncs and renames).
  Goals: median ≤ 100 ms, p99 ≤ 500 ms, and no backlog growth (files
  waiting in ``new/`` over the last 10 seconds no more than over the first
  10, plus the rate's worth of one second).
* **throughput** — ``--files`` files already waiting, shipped by ``entrepot
  serve`` (timed from its start to the last file verified on the server)
  against one ``entrepot ship SPOOL URL --parallel N`` (timed from its start
  to its exit, every file verified afterwards), both with ``--parallel``
  transfers; ratio = ship time ÷ serve time, goal ≥ 0.9.
* **idle** — ``entrepot serve`` with 10 spools and 10 on-arrival routes to
  local folders, nothing arriving: CPU time (user + system, from
  ``/proc/PID/stat``) over ``--idle-seconds`` as a share of one core (goal
  < 1 %), and the largest resident size seen (goal < 100 MB).

The FTP server is the test suite's pyftpdlib server, in a process of its own
(``bench_targets_servers.py``).  Each part verifies on the server side that
every file arrived once with its own bytes, and that the spool's ``claimed/``
is empty at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import statistics
import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench_targets_common import ServerProcess
from entrepot.spool import Spool
from entrepot.targets import is_partial
from harness import (
    ENTREPOT,
    Row,
    Side,
    check,
    check_same,
    folder_digests,
    options,
    print_table,
    random_files,
    scratch,
    summary,
)

PASSWORD_VARIABLE = "BENCH_FTP_PASSWORD"

SERVICE = """\
[service]
state = "{state}"
grace = "10s"
scan_every = "30s"
"""

ROUTE = """
[spools.{name}]
path = "{spool}"

[targets.{name}]
url = "{url}"
{password}
[routes.{name}]
spool = "{name}"
target = "{name}"
on_arrival = true
parallel = {parallel}
"""


def _config(base: Path, routes: list[tuple[str, Path, str, bool]], parallel: int) -> Path:
    """A configuration file with one on-arrival route per (name, spool, url, needs password)."""
    text = SERVICE.format(state=base / "state")
    for name, spool, url, secret in routes:
        password = f'password_env = "{PASSWORD_VARIABLE}"\n' if secret else ""
        text += ROUTE.format(name=name, spool=spool, url=url, password=password, parallel=parallel)
    path = base / "entrepot.toml"
    path.write_text(text)
    return path


class Serve:
    """``entrepot serve --config FILE`` in a child process."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.log = config.with_suffix(".log")
        with open(self.log, "wb") as handle:
            self.proc = subprocess.Popen(
                [ENTREPOT, "serve", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while "service.ready" not in self.log.read_text(errors="replace"):
            check(self.proc.poll() is None, f"serve exited: {self.log.read_text()[-2000:]}")
            check(time.monotonic() < deadline, "serve did not become ready")
            time.sleep(0.01)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        check(code == 0, f"serve exited {code}: {self.log.read_text()[-2000:]}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# -- latency ---------------------------------------------------------------------------------


class Checker(threading.Thread):
    """Takes each file that appears in ``folder``: verifies it, notes the time, removes it."""

    def __init__(self, folder: Path, expected: dict[str, tuple[float, str]]) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.expected = expected
        self.latency: dict[str, float] = {}
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for entry in os.scandir(self.folder):
                if is_partial(entry.name) or entry.name in self.latency:
                    continue
                seen = time.time()
                data = Path(entry.path).read_bytes()
                published = self.expected.get(entry.name)
                if published is None or published[1] != _sha(data):
                    self.errors.append(f"{entry.name}: unknown or different bytes")
                else:
                    self.latency[entry.name] = seen - published[0]
                os.unlink(entry.path)
            self.done.wait(0.005)


def latency(args: Any, info: dict[str, Any], base: Path) -> dict[str, Any]:
    ftp = info["ftp"]
    remote = Path(ftp["root"]) / "latency"
    remote.mkdir()
    url = f"ftp://{ftp['user']}@127.0.0.1:{ftp['port']}/latency"
    spool = Spool(base / "latency-spool").prepare()
    config = _config(base, [("latency", spool.root, url, True)], args.parallel)
    published: dict[str, tuple[float, str]] = {}
    checker = Checker(remote, published)
    serve = Serve(config, {PASSWORD_VARIABLE: ftp["password"]})
    waiting: list[int] = []
    try:
        serve.wait_ready()
        checker.start()
        count = int(args.rate * args.seconds)
        started = time.monotonic()
        for number in range(count):
            due = started + number / args.rate
            if (pause := due - time.monotonic()) > 0:
                time.sleep(pause)
            data, name = os.urandom(args.size), f"lat-{number:06d}.bin"
            # Noted before the call: the service may ship it before the call returns.
            published[name] = (time.time(), _sha(data))
            spool.publish_bytes(data, name)
            if number % int(args.rate) == 0:
                waiting.append(len(os.listdir(spool.root / "new")))
        deadline = time.monotonic() + 60
        while len(checker.latency) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        checker.done.set()
        serve.stop()
    check(not checker.errors, f"{checker.errors[:3]}")
    check(len(checker.latency) == count, f"{count - len(checker.latency)} files never arrived")
    check(not spool.names("claimed") and not spool.names("new"), "files left in the spool")
    values = [checker.latency[name] * 1000 for name in sorted(checker.latency)]
    first, last = waiting[:10], waiting[-10:]
    growth_ok = statistics.mean(last) <= statistics.mean(first) + args.rate
    result = {
        "files": count,
        "rate": args.rate,
        "size": args.size,
        "median_ms": statistics.median(values),
        "p99_ms": _percentile(values, 0.99),
        "max_ms": max(values),
        "waiting_first_10s": statistics.mean(first),
        "waiting_last_10s": statistics.mean(last),
        "waiting_max": max(waiting),
        "no_backlog_growth": growth_ok,
    }
    result["met"] = result["median_ms"] <= 100 and result["p99_ms"] <= 500 and growth_ok
    return result


# -- throughput ------------------------------------------------------------------------------


def throughput(args: Any, info: dict[str, Any], base: Path) -> dict[str, Any]:
    ftp = info["ftp"]
    sources = random_files(base / "sources", args.files, args.size)
    expected = {p.name: (p.stat().st_size, _sha(p.read_bytes())) for p in sources}
    env = {PASSWORD_VARIABLE: ftp["password"]}
    runs = iter(range(1_000_000))

    def fresh() -> tuple[Spool, Path, str]:
        n = next(runs)
        remote = Path(ftp["root"]) / f"bulk-{n}"
        remote.mkdir()
        spool = Spool(base / f"bulk-spool-{n}").prepare()
        for path in sources:
            os.link(path, spool.root / "new" / path.name)
        return spool, remote, f"ftp://{ftp['user']}@127.0.0.1:{ftp['port']}/bulk-{n}"

    def verify(spool: Spool, remote: Path) -> None:
        check_same(folder_digests(remote), expected)
        check(not spool.names("new") and not spool.names("claimed"), "files left in the spool")

    def serve_once() -> float:
        spool, remote, url = fresh()
        folder = base / f"serve-{remote.name}"
        folder.mkdir()
        config = _config(folder, [("bulk", spool.root, url, True)], args.parallel)
        started = time.perf_counter()
        serve = Serve(config, env)
        try:
            # The end of the run is its log line (cheap to watch: listing two folders of
            # 2,000 files every few ms would slow the machine being measured).
            while "service.run_finished" not in serve.log.read_text(errors="replace"):
                check(serve.proc.poll() is None, "serve exited")
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
        finally:
            serve.stop()
        verify(spool, remote)
        return elapsed

    def ship_once() -> float:
        spool, remote, url = fresh()
        argv = [ENTREPOT, "ship", str(spool.root), url, "--parallel", str(args.parallel),
                "--password-env", PASSWORD_VARIABLE,
                "--state", str(base / "ship-state")]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env={**os.environ, **env})
        elapsed = time.perf_counter() - started
        verify(spool, remote)
        return elapsed

    row = Row(
        f"{args.files} waiting files × {args.size} B to FTP, parallel {args.parallel}",
        Side("entrepot serve", lambda: None),  # type: ignore[arg-type, return-value]
        [Side("entrepot ship", lambda: None, goal=0.9, goal_text="≥ 0.9")],  # type: ignore[arg-type, return-value]
    )
    row.times = {"entrepot serve": [], "entrepot ship": []}
    load = os.getloadavg()[0]
    for number in range(args.warmup + args.rounds):
        pair = [("entrepot serve", serve_once), ("entrepot ship", ship_once)]
        for label, once in pair if number % 2 == 0 else pair[::-1]:
            elapsed = once()
            if number >= args.warmup:
                row.times[label].append(elapsed)
        print(f"  throughput: round {number + 1 - args.warmup} done", flush=True)
    row.load = (load, os.getloadavg()[0])
    return summary(row)[0]


# -- idle ------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle(args: Any, base: Path) -> dict[str, Any]:
    routes = []
    for n in range(10):
        target = base / f"idle-target-{n}"
        target.mkdir()
        routes.append((f"idle-{n}", base / f"idle-spool-{n}", target.as_uri(), False))
    config = _config(base, routes, 1)
    serve = Serve(config, {})
    try:
        serve.wait_ready()
        time.sleep(2)  # start-up settles (the first scans, the lanes' threads)
        pid = serve.proc.pid
        cpu_before, started = _cpu_seconds(pid), time.monotonic()
        rss = []
        while time.monotonic() - started < args.idle_seconds:
            rss.append(_rss_mb(pid))
            time.sleep(1)
        share = (_cpu_seconds(pid) - cpu_before) / (time.monotonic() - started) * 100
    finally:
        serve.stop()
    result = {
        "routes": 10,
        "seconds": args.idle_seconds,
        "cpu_percent_of_one_core": share,
        "rss_max_mb": max(rss),
    }
    result["met"] = share < 1.0 and max(rss) < 100
    return result


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.set_defaults(rounds=3)
    parser.add_argument("--parts", default="latency,throughput,idle")
    parser.add_argument("--rate", type=float, default=100.0, help="files a second (latency)")
    parser.add_argument("--seconds", type=float, default=60.0, help="publishing time (latency)")
    parser.add_argument("--size", type=int, default=4096, help="bytes per file")
    parser.add_argument("--files", type=int, default=2000, help="files waiting (throughput)")
    parser.add_argument("--parallel", type=int, default=4, help="transfers at once")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    parts = args.parts.split(",")
    base = scratch("cmd-serve")
    report: dict[str, Any] = {"load_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    with ExitStack() as stack:
        info = stack.enter_context(ServerProcess(base / "servers")).info
        if "latency" in parts:
            report["latency"] = latency(args, info, base)
            print("latency:", json.dumps(report["latency"]), flush=True)
        if "throughput" in parts:
            line = throughput(args, info, base)
            report["throughput"] = line
            print_table([line])
    if "idle" in parts:
        report["idle"] = idle(args, base)
        print("idle:", json.dumps(report["idle"]), flush=True)
    report["load_after"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
