"""The servers a shipping benchmark ships to, as Entrepôt and rclone each name them.

:func:`start_remotes` starts the test suite's FTP and SFTP servers (in a
process of their own, ``bench_targets_servers.py``) and SeaweedFS for S3, and
gives a :class:`Remote` for each, and one for a local folder: its URL, its
options, and what landed in a folder of it, checked on the server's side.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_targets import Rclone, rclone_binary
from bench_targets_common import ServerProcess
from harness import folder_digests, new_ledger

# isort: split
# (harness has put the project root on sys.path: the test servers are found)
from tests.servers import s3 as s3_servers

PASSWORD_VARIABLE = "BENCH_TARGET_PASSWORD"
BUCKET = "bench"


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
    new_ledger(base / "state")
    return info, s3, remotes
