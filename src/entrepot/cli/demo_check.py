"""How ``entrepot demo --once`` checks the outcome: through the dashboard's JSON API.

The check asks what an operator would look at, with the operator's token
(``Authorization: Bearer``): the overview (no job in the backlog or dead,
no file waiting in a spool, as many files delivered by the route's runs as
were fed), the trace (no file received and not delivered) and the data
center (the import of the upload counted its good and bad rows).  The
service works while the check polls, so it waits (up to a generous
timeout) for the answers to settle and then reports each difference in
one sentence.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from entrepot.cli.demo_flow import Fed

__all__ = ["DashboardApi", "outcome_problems", "wait_for_outcome"]

#: Seconds the check waits for the service to finish the demo's work.
OUTCOME_TIMEOUT = 90.0
#: Pages of runs read at most (of 50 runs each).
_MAX_PAGES = 20


class DashboardApi:
    """GET requests to the dashboard's ``/api/…`` paths with a Bearer token."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not the URL of a dashboard: {url!r}")
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def get(self, path: str) -> Any:
        """The JSON answer of ``GET <url><path>``; an :class:`OSError` when there is none."""
        # Only the http(s) URL of the service this command started: no file: or other scheme.
        request = urllib.request.Request(  # noqa: S310
            self.url + path,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise OSError(f"GET {path} answered {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise OSError(f"GET {path}: {exc.reason}") from None


def outcome_problems(api: DashboardApi, fed: Fed) -> list[str]:
    """What differs from the expected outcome of ``fed``, one sentence each (empty: none)."""
    overview = api.get("/api/overview")
    problems = _backlog_problems(overview) + _spool_problems(overview)
    runs = _every_run(api, overview)
    delivered = sum(
        run["items"] for run in runs if run["kind"] == "ship" and run["outcome"] == "succeeded"
    )
    if delivered < fed.deliveries:
        problems.append(f"{delivered} of the {fed.deliveries} files fed were delivered")
    # The provenance record's view: every file received into a spool was delivered.
    undelivered = [entry["name"] for entry in api.get("/api/trace/undelivered")["files"]]
    if undelivered:
        problems.append(
            f"not delivered: {', '.join(sorted(undelivered)[:5])}"
            + (f" and {len(undelivered) - 5} more" if len(undelivered) > 5 else "")
        )
    imports = [run for run in runs if run["kind"] == "import" and fed.upload in run["name"]]
    if not imports:
        return [*problems, f"no import of {fed.upload} has run"]
    progress = api.get(f"/api/datacenter/imports/{imports[0]['job_id']}")
    counted = (progress["rows_ok"], progress["rows_failed"])
    if not progress["done"] or counted != (fed.rows_ok, fed.rows_failed):
        problems.append(
            f"the import of {fed.upload} counted {counted[0]} rows ok and {counted[1]} failed "
            f"({progress['state']}); {fed.rows_ok} and {fed.rows_failed} were expected"
        )
    return problems


def _every_run(api: DashboardApi, overview: dict[str, Any]) -> list[dict[str, Any]]:
    """Every run the demo's ledger holds: the overview's recent runs, page after page (a
    busy demo makes more runs than one page shows), each once though runs begin meanwhile."""
    listing = overview["recent_runs"]
    runs = {run["id"]: run for run in listing["items"]}
    page = 1
    while listing["has_next"] and page < _MAX_PAGES:
        page += 1
        listing = api.get(f"/api/overview?page={page}")["recent_runs"]
        runs.update((run["id"], run) for run in listing["items"])
    return list(runs.values())


def _backlog_problems(overview: dict[str, Any]) -> list[str]:
    counts = overview["jobs_by_state"]
    return [
        f"{counts.get(state, 0)} job(s) {where}"
        for state, where in (("backlog", "wait in the backlog"), ("dead", "are dead"))
        if counts.get(state, 0)
    ]


def _spool_problems(overview: dict[str, Any]) -> list[str]:
    return [
        f"spool {spool['name']}: {spool['waiting_files']} file(s) still wait, "
        f"{spool['in_flight']} in flight"
        for spool in overview["spools"]
        if spool["waiting_files"] or spool["in_flight"]
    ]


def wait_for_outcome(api: DashboardApi, fed: Fed, timeout: float = OUTCOME_TIMEOUT) -> list[str]:
    """Poll until the outcome is as expected or ``timeout`` passes; the last problems found."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            problems = outcome_problems(api, fed)
        except OSError as exc:  # not answering (yet)
            problems = [f"the dashboard's API did not answer: {exc}"]
        except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not the expected shape
            problems = [f"the dashboard's API answered unexpectedly: {type(exc).__name__}: {exc}"]
        if not problems or time.monotonic() >= deadline:
            return problems
        time.sleep(0.5)
