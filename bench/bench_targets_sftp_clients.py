"""Which SFTP client library is faster here: paramiko or asyncssh?

Both upload the same files, over one connection each, to the same loopback
asyncssh server that the tests and bench_targets.py use, with the same
protocol steps the SFTP target performs per file (write under a temporary
name, posix-rename, stat).  rclone 1.75 runs the same workload for scale.

    .venv/bin/python bench/bench_targets_sftp_clients.py [--small N] [--large-mib M]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_targets_common import ServerProcess, make_files

USER = PASSWORD = ""

BLOCK = 256 * 1024


def paramiko_run(port: int, known_hosts: Path, files: list[Path], folder: str) -> float:
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1", port, USER, PASSWORD, timeout=10, allow_agent=False, look_for_keys=False
    )
    sftp = client.open_sftp()
    sftp.get_channel().settimeout(30)
    start = time.perf_counter()
    for local in files:
        tmp = f"{folder}/.{local.name}.part"
        with open(local, "rb") as src, sftp.open(tmp, "wb") as dst:
            dst.set_pipelined(True)
            while chunk := src.read(BLOCK):
                dst.write(chunk)
        sftp.posix_rename(tmp, f"{folder}/{local.name}")
        sftp.stat(f"{folder}/{local.name}")
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def asyncssh_run(port: int, known_hosts: Path, files: list[Path], folder: str) -> float:
    import asyncssh

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    async def connect():  # type: ignore[no-untyped-def]
        conn = await asyncssh.connect(
            "127.0.0.1",
            port,
            username=USER,
            password=PASSWORD,
            known_hosts=str(known_hosts),
            client_keys=None,
            agent_path=None,
        )
        return conn, await conn.start_sftp_client()

    async def put(sftp, local: Path) -> None:  # type: ignore[no-untyped-def]
        tmp = f"{folder}/.{local.name}.part"
        size = local.stat().st_size
        async with sftp.open(tmp, "wb", block_size=BLOCK, max_requests=64) as dst:
            with open(local, "rb") as src:
                if size <= BLOCK:
                    await dst.write(src.read())
                else:
                    pending: set[asyncio.Future[int]] = set()
                    offset = 0
                    while chunk := src.read(BLOCK):
                        pending.add(asyncio.ensure_future(dst.write(chunk, offset)))
                        offset += len(chunk)
                        if len(pending) >= 32:
                            done, pending = await asyncio.wait(
                                pending, return_when=asyncio.FIRST_COMPLETED
                            )
                            for d in done:
                                d.result()
                    if pending:
                        await asyncio.gather(*pending)
        await sftp.posix_rename(tmp, f"{folder}/{local.name}")
        await sftp.stat(f"{folder}/{local.name}")

    conn, sftp = run(connect())
    start = time.perf_counter()
    for local in files:
        run(put(sftp, local))
    elapsed = time.perf_counter() - start
    sftp.exit()
    conn.close()
    run(conn.wait_closed())
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    return elapsed


def rclone_run(port: int, known_hosts: Path, files: list[Path], folder: str) -> float:
    """rclone 1.75 over one connection (``--transfers 1``), for scale."""
    from bench_targets import Rclone, rclone_binary

    rclone = Rclone(rclone_binary(), {})
    remote = {
        "type": "sftp",
        "host": "127.0.0.1",
        "port": str(port),
        "user": USER,
        "pass": rclone.obscure(PASSWORD),
        "known_hosts_file": str(known_hosts),
    }
    rclone = Rclone(rclone_binary(), {"bsftp": remote})
    start = time.perf_counter()
    rclone.copy(files[0] if len(files) == 1 else files[0].parent, f"bsftp:{folder}", transfers=1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large-mib", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sftp-") as tmp:
        base = Path(tmp)
        (base / "root").mkdir()
        (base / "keys").mkdir()
        small = make_files(base / "small", args.small, 4096)
        (base / "large").mkdir()
        large = base / "large" / "large.bin"
        with open(large, "wb") as f:
            for _ in range(args.large_mib):
                f.write(os.urandom(1024 * 1024))
        global USER, PASSWORD
        with ServerProcess(base / "servers") as servers:
            info = servers.info["sftp"]
            USER, PASSWORD = info["user"], info["password"]
            root, port, known = Path(info["root"]), info["port"], Path(info["known_hosts"])
            for name, fn in (
                ("paramiko", paramiko_run),
                ("asyncssh", asyncssh_run),
                ("rclone", rclone_run),
            ):
                small_times, large_times = [], []
                for r in range(args.repeat):
                    folder = f"{name}-{r}"
                    (root / folder).mkdir()
                    small_times.append(fn(port, known, small, folder))
                    large_times.append(fn(port, known, [large], folder))
                s, big = statistics.median(small_times), statistics.median(large_times)
                print(
                    f"{name:9} small: {args.small / s:7.1f} files/s   "
                    f"large: {args.large_mib / big:7.1f} MiB/s  (median of {args.repeat})"
                )


if __name__ == "__main__":
    main()
