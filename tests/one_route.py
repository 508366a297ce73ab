"""The smallest configuration that runs: one spool, one local target, a route every hour.

Tests that need a configuration to break, or to run as it is, start from it.
"""

from __future__ import annotations

from pathlib import Path

_TEXT = """\
[service]
state = "{state}"
{service}
[spools.out]
path = "out"

[targets.dest]
url = "file://{root}/dest"

[routes.r]
spool = "out"
target = "dest"
{trigger}
"""


def one_route(
    root: Path, *, state: str = "state", service: str = "", trigger: str = 'every = "1h"'
) -> str:
    """Its text: the target's folder under ``root``; ``service``: more lines of ``[service]``;
    ``trigger``: the route's (``on_arrival = true``…)."""
    lines = service if not service or service.endswith("\n") else service + "\n"
    return _TEXT.format(root=root, state=state, service=lines, trigger=trigger)
