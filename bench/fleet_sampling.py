"""What the processes of a fleet benchmark spent, read from ``/proc`` and PostgreSQL.

* :class:`CpuBook` — CPU seconds of process trees (an ``entrepot serve``, the
  PostgreSQL postmaster with its backends, ``weed``) between two readings.  A
  tree's reading is each live member's ``utime + stime`` plus the
  ``cutime + cstime`` of its reaped children, so a backend that ends between
  two readings is still counted (its time moves into its parent's).
* ``machine_busy`` — all CPU seconds of the machine (``/proc/stat``), to show
  how much of the two cores the rest of the machine (other people's work) took.
* ``run_delay`` — how long a process's threads waited for a core while ready.
* ``disk_busy`` — milliseconds the disk was busy (``/proc/diskstats``, field
  ``io_ticks``) and flushes completed, for the device under a folder.
* :class:`WaitSampler` — what PostgreSQL's backends were doing, sampled from
  ``pg_stat_activity`` a few times a second: on a core, or waiting (and on
  what: ``IO:WALSync``, ``Lock:…``, ``LWLock:…``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (field 3 is index 0)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _parents() -> dict[int, int]:
    """pid → parent pid of every live process."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                found[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
    return found


def tree(root: int, parents: dict[int, int]) -> list[int]:
    """``root`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    members, todo = [], [root]
    while todo:
        pid = todo.pop()
        members.append(pid)
        todo += children.get(pid, [])
    return members


def tree_cpu(root: int, parents: dict[int, int]) -> float:
    """CPU seconds of ``root``'s tree so far, reaped children included."""
    total = 0
    for pid in tree(root, parents):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat_fields(pid)
            total += sum(int(fields[n]) for n in (11, 12, 13, 14))
    return total / TICK


def run_delay(root: int, parents: dict[int, int]) -> float:
    """Seconds the live threads of ``root``'s tree have waited for a core while ready."""
    total = 0
    for pid in tree(root, parents):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle (all cores, since boot)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / TICK


def machine_iowait() -> float:
    """CPU seconds the machine's cores have been idle with disk I/O outstanding."""
    return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[5]) / TICK


def _device_of(folder: Path) -> str | None:
    """The ``/proc/diskstats`` name of the disk holding ``folder`` (a whole disk or partition)."""
    dev = os.stat(folder).st_dev
    major, minor = os.major(dev), os.minor(dev)
    for line in Path("/proc/diskstats").read_text().splitlines():
        parts = line.split()
        if int(parts[0]) == major and int(parts[1]) == minor:
            return parts[2]
    # An overlay or other virtual file system: the busiest real disk stands for it.
    disks = [line.split() for line in Path("/proc/diskstats").read_text().splitlines()]
    real = [d for d in disks if not d[2].startswith(("loop", "ram", "zram", "dm-"))]
    return max(real, key=lambda d: int(d[12]))[2] if real else None


def disk_busy(folder: Path) -> tuple[str, float, int]:
    """(device, seconds busy so far, flushes completed so far) of ``folder``'s disk."""
    device = _device_of(folder)
    for line in Path("/proc/diskstats").read_text().splitlines():
        parts = line.split()
        if parts[2] == device:
            flushes = int(parts[18]) if len(parts) > 18 else 0
            return device, int(parts[12]) / 1000, flushes
    return "?", 0.0, 0


class CpuBook:
    """Readings of named process trees; :meth:`spent` gives each one's CPU between two."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots

    def read(self) -> dict[str, float]:
        parents = _parents()
        reading = {name: tree_cpu(pid, parents) for name, pid in self.roots.items()}
        reading["machine"] = machine_busy()
        reading["iowait"] = machine_iowait()
        reading["bench"] = sum(os.times()[:4])
        reading["at"] = time.perf_counter()
        return reading

    def delays(self) -> dict[str, float]:
        parents = _parents()
        return {name: run_delay(pid, parents) for name, pid in self.roots.items()}

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """CPU seconds of each tree, of the bench, and of the rest of the machine."""
        spent = {name: after[name] - before[name] for name in before}
        ours = sum(v for name, v in spent.items() if name not in ("machine", "iowait", "at"))
        spent["others"] = max(0.0, spent["machine"] - ours)
        return spent


class WaitSampler(threading.Thread):
    """What the backends of some databases (and the server's own processes) were doing.

    Every ``every`` seconds it reads ``pg_stat_activity``: an active client
    backend of one of ``databases`` counts under its wait (``IO:WALSync``,
    ``Lock:transactionid``…) or ``CPU`` when it waits on nothing; the
    server's background processes (WAL writer, checkpointer…) count when they
    wait on I/O.  :meth:`averages` gives the average number of backends in
    each state over the samples taken — 0.5 ``IO:WALSync`` means that half
    the time one backend was waiting for the WAL to reach the disk.
    """

    def __init__(self, url: str, databases: list[str], every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.url, self.databases, self.every = url, databases, every
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        query = """SELECT backend_type, wait_event_type, wait_event FROM pg_stat_activity
            WHERE pid <> pg_backend_pid() AND (
                (state = 'active' AND datname = ANY(%s))
                OR (backend_type <> 'client backend' AND wait_event_type = 'IO'))"""
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.done.wait(self.every):
                rows = conn.execute(query, (self.databases,)).fetchall()
                self.samples += 1
                for backend, kind, event in rows:
                    what = "CPU" if kind is None else f"{kind}:{event}"
                    who = "" if backend == "client backend" else f"{backend} "
                    self.counts[who + what] += 1

    def averages(self) -> dict[str, float]:
        self.done.set()
        self.join()
        return {what: n / max(1, self.samples) for what, n in self.counts.most_common()}


#: Where a sampled stack of the working thread is, by the first of these its frames name,
#: from the innermost out ("fsync" is any line of ours that calls ``os.fsync``).
PLACES = (
    ("PostgreSQL", ("psycopg",)),
    ("S3 requests", ("botocore", "urllib3", "http/client", "socket.py", "ssl.py", "boto3")),
)


def fsync_lines(source: Path) -> set[str]:
    """``path:line)`` of every line under ``source`` that calls ``os.fsync``."""
    found = set()
    for path in source.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "os.fsync(" in line and not line.lstrip().startswith("#"):
                found.add(f"{path.relative_to(source)}:{number})")
    return found


def place_of(frames: list[str], syncs: set[str]) -> str:
    for frame in frames:
        if any(mark in frame for mark in syncs):
            return "fsync"
        for name, marks in PLACES:
            if any(mark in frame for mark in marks):
                return name
    return "Python"


class Profile:
    """``py-spy record`` of one process, idle time included; where its working thread was.

    Only the stacks passing through ``work`` (a file name, e.g. ``fetcher.py``)
    count: the other threads (heartbeat, provenance writer, the main loop)
    mostly sleep.  Each stack is put under the first of :data:`PLACES` its
    frames name, from the innermost out; "Python" is the rest (our code,
    SQLAlchemy, Arrow…, on a core or waiting for one).
    """

    def __init__(self, py_spy: str, pid: int, output: Path, work: str, source: Path) -> None:
        import subprocess

        self.output, self.work = output, work
        self.syncs = fsync_lines(source)
        argv = [py_spy, "record", "--pid", str(pid), "--rate", "100", "--idle", "--nonblocking"]
        argv += ["--format", "raw", "--output", str(output)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> dict[str, float]:
        import signal

        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        counts: Counter[str] = Counter()
        if not self.output.exists():
            return {}
        for line in self.output.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if self.work not in stack or not count.isdigit():
                continue
            counts[place_of(stack.split(";")[::-1], self.syncs)] += int(count)
        total = sum(counts.values()) or 1
        return {place: n / total for place, n in counts.most_common()}


def pg_counters(url: str, databases: list[str]) -> dict[str, float]:
    """The server's WAL flushes (count, ms) and bytes; the commits in each of ``databases``.

    The commits are named ``commits`` (the first database: the ledger) and
    ``data commits`` (the others: the data center's).
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        wal = conn.execute("SELECT wal_sync, wal_sync_time, wal_bytes FROM pg_stat_wal").fetchone()
        commits = dict(
            conn.execute(
                "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY(%s)",
                (databases,),
            ).fetchall()
        )
    assert wal is not None
    return {
        "wal_syncs": float(wal[0]),
        "wal_sync_ms": float(wal[1]),
        "wal_bytes": float(wal[2]),
        "commits": float(commits.get(databases[0]) or 0),
        "data commits": float(sum(commits.get(name) or 0 for name in databases[1:])),
    }


def time_wal_flushes(url: str) -> None:
    """Have the server time its WAL flushes (``track_wal_io_timing``), from now on."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET track_wal_io_timing = on")
        conn.execute("SELECT pg_reload_conf()")


class Window:
    """Everything above, read at the start and at the end of a timed window."""

    def __init__(
        self, roots: dict[str, int], pg_url: str, databases: list[str], folder: Path
    ) -> None:
        self.book = CpuBook(roots)
        self.pg_url, self.databases, self.folder = pg_url, databases, folder
        self.sampler = WaitSampler(pg_url, databases)
        self.profile: Profile | None = None

    def open(self, profile: tuple[str, int, Path, str, Path] | None = None) -> None:
        """Start reading; ``profile``: (py-spy, pid, output, marker, source) to profile one."""
        self.pg = pg_counters(self.pg_url, self.databases)
        self.sampler.start()
        if profile is not None:
            self.profile = Profile(*profile)
        self.cpu, self.delays = self.book.read(), self.book.delays()
        self.disk = disk_busy(self.folder)

    def close(self) -> dict[str, Any]:
        """The window's figures (PostgreSQL's counters come later: :meth:`pg_spent`)."""
        cpu, delays, disk = self.book.read(), self.book.delays(), disk_busy(self.folder)
        spent = CpuBook.spent(self.cpu, cpu)
        seconds, cores = spent["at"], os.cpu_count() or 1
        return {
            "cpu_window_s": spent.pop("at"),
            "cpu_s": {name: round(value, 3) for name, value in spent.items()},
            "share": {name: value / (seconds * cores) for name, value in spent.items()},
            "runq_s": {name: round(delays[name] - self.delays[name], 3) for name in delays},
            "disk_busy": (disk[1] - self.disk[1]) / seconds,
            "disk_flushes": disk[2] - self.disk[2],
            "pg_waits": {what: round(n, 3) for what, n in self.sampler.averages().items()},
            "profile": self.profile.stop() if self.profile else {},
        }

    def pg_spent(self) -> dict[str, float]:
        """PostgreSQL's counters since :meth:`open` (read once the services have stopped)."""
        time.sleep(1.5)  # backends report their statistics within a second of going idle
        now = pg_counters(self.pg_url, self.databases)
        return {name: now[name] - self.pg[name] for name in now}
