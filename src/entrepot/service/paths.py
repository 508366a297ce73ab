"""Where the service's configuration file is when no one says: standard library only.

Kept apart from :mod:`entrepot.service.loading` (which brings pydantic) so
that a command that only looks — ``entrepot status`` — can tell whether a
configuration exists before paying for reading one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CONFIG_NAME", "default_config_path"]

#: The file used when neither ``--config`` nor ``ENTREPOT_CONFIG`` names one.
CONFIG_NAME = "entrepot.toml"


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$ENTREPOT_CONFIG``, else ``$XDG_CONFIG_HOME/entrepot/entrepot.toml``."""
    env = os.environ if env is None else env
    if env.get("ENTREPOT_CONFIG"):
        return Path(env["ENTREPOT_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "entrepot" / CONFIG_NAME
