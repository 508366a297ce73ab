"""The peak memory of a command run in a subprocess, as the command's own process saw it.

``getrusage``'s ``ru_maxrss`` will not do: Linux keeps, across ``exec``, the
peak of the process image that ``exec`` replaced — a copy of the test's
process (``fork``) or that process itself (``vfork``) — so a command started
by a test worker grown to 700 MB reports 700 MB, whatever it used.  The
high-water mark of ``/proc/self/status`` (``VmHWM``) belongs to the memory
map the command's ``exec`` made.
"""

from __future__ import annotations

import re

#: ``python -c MEASURED ARGS…`` runs ``entrepot ARGS…`` and writes its peak on stderr's last line.
MEASURED = """
import sys
from entrepot.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
sys.stderr.write(f"\\npeak_rss_kib={peak}\\n")
sys.exit(code)
"""


def peak_bytes(err: str) -> int:
    """The peak written by :data:`MEASURED` on the stderr ``err``, in bytes."""
    found = re.findall(r"peak_rss_kib=(\d+)", err)
    assert found, err[-2000:]
    return int(found[-1]) * 1024
