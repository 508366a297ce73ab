"""What the trace pages show: files' journeys, files not delivered, and receipts.

The questions ``entrepot trace`` and ``entrepot receipt`` answer, asked from
the dashboard's forms: a file name or glob with the same filters (a route
— its spool —, a target, ``since``/``until`` as a duration back from now or
a date), answered by :mod:`entrepot.provenance` a page at a time.  A page
holds up to :data:`NAMES_PER_PAGE` names; each name's journey is what
``find`` returns for it, with ``verdict``'s one line per file.

Names of routes and targets are those of the configuration, so a form never
carries a folder or a URL; unknown ones are refused with a message.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from entrepot.provenance.browse import matching_names, recent_undelivered
from entrepot.provenance.events import Event, place_of
from entrepot.provenance.journal import JOURNAL_DIR
from entrepot.provenance.reader import by_file, deliveries, find, literal_prefix, verdict
from entrepot.provenance.receipts import ReceiptFormat, receipt_pieces
from entrepot.provenance.recorder import recover_journals
from entrepot.service.config import Config
from entrepot.service.named import delivered_to
from entrepot.targets import mask_url
from entrepot.units import parse_moment

__all__ = [
    "Journey",
    "TraceForm",
    "TracePage",
    "UndeliveredPage",
    "receipt",
    "trace_page",
    "undelivered_page",
]

#: File names per page of a search.
NAMES_PER_PAGE = 20
#: Events read per name: a file retried for months still fits, a runaway one is cut.
EVENTS_PER_NAME = 1_000
#: Events searched for a pattern that starts with a wildcard (no index can narrow it).
RECENT_EVENTS = 50_000
#: Files per page of the undelivered list.
UNDELIVERED_PER_PAGE = 50


class FormError(ValueError):
    """A filter the form cannot use (an unknown route, a time that is none); shown as is."""


@dataclass(frozen=True)
class TraceForm:
    """The filters of a search, as the form sends them (empty text is no filter)."""

    name: str = ""
    route: str = ""
    target: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def of(cls, query: Any) -> TraceForm:
        """The form from a request's query parameters (a mapping of text)."""
        return cls(**{key: str(query.get(key, "")).strip()[:1024] for key in _FIELDS})

    def as_query(self) -> dict[str, str]:
        """The filters that are set, for links to other pages of the same search."""
        return {key: getattr(self, key) for key in _FIELDS if getattr(self, key)}


_FIELDS = ("name", "route", "target", "since", "until")


@dataclass(frozen=True)
class Filters:
    """A form's filters resolved against the configuration."""

    place: str | None
    target: str | None
    since: datetime | None
    until: datetime | None


def resolve(config: Config, form: TraceForm, now: datetime) -> Filters:
    """The place of ``form.route`` (its spool), the masked URL of ``form.target``, the times."""
    place = target = None
    if form.route:
        route = config.routes.get(form.route)
        if route is None or route.spool not in config.spools:
            raise FormError(f"no route named {form.route!r} in the configuration")
        place = place_of(config.spools[route.spool].path)
    if form.target:
        section = config.targets.get(form.target)
        if section is None:
            raise FormError(f"no target named {form.target!r} in the configuration")
        target = mask_url(section.url)
    since, until = _moment(form.since, now), _moment(form.until, now)
    if since is not None and until is not None and since >= until:
        raise FormError(f"since {form.since} is not before until {form.until}: nothing is between")
    return Filters(place, target, since, until)


def _moment(text: str, now: datetime) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text, now)
    except ValueError as exc:
        raise FormError(str(exc)) from None


def file_journals(engine: Engine, config: Config) -> None:
    """Record the events that commands which could not open the ledger (``spool put``,
    ``dc upload``) or processes killed meanwhile left in the state folder's journals, as
    ``entrepot trace`` does before it reads."""
    recover_journals(engine, config.service.state / JOURNAL_DIR)


def spool_names(config: Config) -> dict[str, str]:
    """Each configured spool's place (as events name it) → the spool's name."""
    return {place_of(spool.path): name for name, spool in config.spools.items()}


@dataclass(frozen=True)
class Journey:
    """One file's events, in order, and where it stands."""

    place: str
    spool: str | None
    """The configured spool's name, when the place is one."""
    name: str
    verdict: str
    events: list[Event]

    def as_json(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "spool": self.spool,
            "name": self.name,
            "verdict": self.verdict,
            "events": [event.as_json() for event in self.events],
        }


@dataclass(frozen=True)
class TracePage:
    """A page of a search: the journeys of up to :data:`NAMES_PER_PAGE` names."""

    form: TraceForm
    page: int
    journeys: list[Journey] = field(default_factory=list)
    has_next: bool = False
    error: str | None = None
    searched: int | None = None
    """For a pattern that starts with a wildcard: how many of the latest events were searched."""

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.form.as_query(),
            "page": self.page,
            "has_next": self.has_next,
            "error": self.error,
            "searched_latest_events": self.searched,
            "files": [journey.as_json() for journey in self.journeys],
        }


def trace_page(
    engine: Engine, config: Config, form: TraceForm, page: int, now: datetime | None = None
) -> TracePage:
    """Page ``page`` (from 1) of the files whose name matches ``form.name``."""
    if not form.name:
        return TracePage(form, page)
    try:
        filters = resolve(config, form, now or datetime.now(UTC))
    except FormError as exc:
        return TracePage(form, page, error=str(exc))
    file_journals(engine, config)
    f = filters
    names = matching_names(
        engine, form.name, place=f.place, target=f.target, since=f.since, until=f.until,
        offset=(page - 1) * NAMES_PER_PAGE, limit=NAMES_PER_PAGE + 1, recent=RECENT_EVENTS,
    )  # fmt: skip
    spools = spool_names(config)
    journeys = []
    for name in names[:NAMES_PER_PAGE]:
        # The name as a glob that matches only itself (a name may hold * ? or [).
        events = find(engine, glob.escape(name), place=f.place, target=f.target, since=f.since,
                      until=f.until, limit=EVENTS_PER_NAME)  # fmt: skip
        for (place, file_name), journey in by_file(events).items():
            journeys.append(Journey(place, spools.get(place), file_name, verdict(journey), journey))
    bounded = RECENT_EVENTS if not literal_prefix(form.name) else None
    return TracePage(form, page, journeys, len(names) > NAMES_PER_PAGE, searched=bounded)


@dataclass(frozen=True)
class UndeliveredPage:
    """Files received and not delivered, newest first, and where the next page starts."""

    form: TraceForm
    files: list[tuple[str | None, Event]] = field(default_factory=list)
    """(the spool's name, the ``received`` event) per file."""
    before: datetime | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.form.as_query(),
            "error": self.error,
            "next_until": self.before.isoformat() if self.before else None,
            "files": [{"spool": spool, **event.as_json()} for spool, event in self.files],
        }


def undelivered_page(
    engine: Engine, config: Config, form: TraceForm, now: datetime | None = None
) -> UndeliveredPage:
    """The newest files of the configured spools (or of ``form.route``'s) not delivered."""
    try:
        filters = resolve(config, form, now or datetime.now(UTC))
    except FormError as exc:
        return UndeliveredPage(form, error=str(exc))
    file_journals(engine, config)
    spools = spool_names(config)
    places = [filters.place] if filters.place else sorted(spools)
    found = recent_undelivered(engine, places, since=filters.since, until=filters.until,
                               limit=UNDELIVERED_PER_PAGE)  # fmt: skip
    files = [(spools.get(event.place), event) for event in found.events]
    return UndeliveredPage(form, files, found.before)


def receipt(
    engine: Engine, config: Config, form: TraceForm, output_format: ReceiptFormat,
    now: datetime | None = None,
) -> Iterator[str]:  # fmt: skip
    """What ``entrepot receipt`` writes for ``form.route`` over the form's times: its spool's
    deliveries to its target (not those of another route of the same spool), in pieces
    read as they are asked for (:func:`~entrepot.provenance.receipts.receipt_pieces`).

    :class:`FormError`, at once, when the route is missing or unknown, or a time is none.
    """
    if not form.route:
        raise FormError("a receipt is for one route: choose it")
    filters = resolve(config, form, now or datetime.now(UTC))
    assert filters.place is not None
    target = delivered_to(config, form.route)
    file_journals(engine, config)
    events = deliveries(engine, filters.place, target=target, since=filters.since,
                        until=filters.until)  # fmt: skip
    return receipt_pieces(events, output_format)
