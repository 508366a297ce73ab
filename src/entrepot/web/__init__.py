"""The web dashboard: see and steer what the service does, in a browser.

Server-rendered pages (Starlette + Jinja2, no front-end build, every file
served by the package) over the running service (:class:`DashboardHost`),
behind a token: a viewer reads, an operator also acts.  Every page has a
JSON twin under ``/api/``, and every action is also a command.  See
``docs/dashboard.md``.
"""

from __future__ import annotations

from entrepot.web.app import build_dashboard, dashboard_for
from entrepot.web.host import DaemonHost, DashboardHost

__all__ = ["DaemonHost", "DashboardHost", "build_dashboard", "dashboard_for"]
