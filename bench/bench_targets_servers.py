"""Run the test suite's loopback FTP and SFTP servers in a process of their own.

The benchmarks start this script so that the Python servers do not share an
interpreter (and its lock) with the clients being measured.  It prints one
JSON line with the ports and credentials, then serves until its standard
input closes.

    python bench/bench_targets_servers.py ROOT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers import ftp, sftp


def main() -> None:
    import logging

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    base = Path(sys.argv[1])
    for sub in ("ftp", "sftp", "keys"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    ftp_server = ftp.FTPServer(base / "ftp")
    ftp_server.start()
    sftp_server = sftp.SFTPServer(base / "sftp", base / "keys")
    sftp_server.start()
    info = {
        "ftp": {
            "port": ftp_server.port,
            "user": ftp.USER,
            "password": ftp.PASSWORD,
            "root": str(base / "ftp"),
        },
        "sftp": {
            "port": sftp_server.port,
            "user": sftp.USER,
            "password": sftp.PASSWORD,
            "root": str(base / "sftp"),
            "known_hosts": str(sftp_server.known_hosts),
            "key_file": str(sftp_server.key_file),
        },
    }
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()
    finally:
        ftp_server.stop()
        sftp_server.shutdown()


if __name__ == "__main__":
    main()
