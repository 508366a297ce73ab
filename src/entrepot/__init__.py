"""Entrepôt: receive data files and events, keep them safely on disk, deliver them.

The package is a library first; the ``entrepot`` command and the service are
thin layers over it.  Library modules log through ``logging.getLogger(__name__)``
and never configure logging themselves: the application does that.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
