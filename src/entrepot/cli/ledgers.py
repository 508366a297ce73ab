"""Which ledger a command uses, and how a command that only reads it reads it.

The state folder (holding the SQLite ledger) comes from ``--state DIR``, else
the environment variable ``ENTREPOT_STATE_DIR``, else
``~/.local/state/entrepot``; ``--ledger URL`` (or ``ENTREPOT_LEDGER_URL``)
names another database instead, e.g. a shared PostgreSQL.  Every command
module takes :data:`StateOption` and :data:`LedgerOption` from here, so that
every command finds the same ledger.

Commands that write open the full :class:`~entrepot.jobs.Ledger`
(:func:`open_ledger`).  Commands that only look — ``status``, ``ship`` with
nothing waiting — read through :func:`ledger_rows`: the state folder's
SQLite file directly with :mod:`sqlite3` when it can (SQLAlchemy alone takes
longer to import than the rest of such a command), the full ledger otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from entrepot.jobs.summary import LEDGER_FILE, Rows, check_ledger_file, sqlite_reader

if TYPE_CHECKING:
    from entrepot.jobs.ledger import Ledger
    from entrepot.provenance.shared import SharedJournal

__all__ = [
    "DEFAULT_STATE_DIR",
    "LedgerChoice",
    "LedgerOption",
    "StateOption",
    "arrivals_in",
    "ledger_rows",
    "open_ledger",
    "receipts_in",
    "recorded",
    "recorded_in",
    "recording_folder",
    "state_dir",
]

#: Where the state folder is when neither ``--state`` nor the environment says.
DEFAULT_STATE_DIR = Path("~/.local/state/entrepot")

StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="ENTREPOT_STATE_DIR",
        help="State folder holding the ledger (default ~/.local/state/entrepot).",
        show_envvar=True,
    ),
]
LedgerOption = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        envvar="ENTREPOT_LEDGER_URL",
        help="Database URL of the ledger instead of the state folder's SQLite file.",
        show_envvar=True,
    ),
]


def state_dir(state: Path | None) -> Path:
    """The state folder named by ``--state`` (or the environment), else the default."""
    return (state or DEFAULT_STATE_DIR).expanduser()


def recorded_in(state: Path | None) -> Path | None:
    """``state`` for a command that only reads the ledger: a state folder named on the
    command line (or by ``$ENTREPOT_STATE_DIR``) that does not exist is a mistake, told
    as one (exit 4) — not an empty ledger made there and read as "nothing happened" —
    and so is a folder that holds no ledger, or a ledger of 0 bytes; a file in the
    folder's place, a damaged ledger and a SQLite database that is not a ledger exit 3."""
    if state is not None:
        _state_folder(state_dir(state), "check --state and $ENTREPOT_STATE_DIR")
    return state


def _state_folder(folder: Path, hint: str) -> None:
    """Refuse ``folder`` unless it is a state folder a command recorded in: one holding
    the ledger, or the provenance journals of puts that no command filed yet.  A
    folder that is not one (a mistyped path, ``/etc``) or a ledger cut to nothing
    is a mistake, never made into an empty ledger read as "nothing happened"."""
    from entrepot.errors import ConfigError

    if not folder.exists():
        raise FileNotFoundError(
            f"no state folder at {folder}: nothing was ever recorded there ({hint})"
        )
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder: the state is a folder holding the ledger")
    ledger = folder / LEDGER_FILE
    if ledger.is_file() and ledger.stat().st_size == 0:
        raise FileNotFoundError(
            f"the ledger {ledger} is empty (0 bytes): it holds nothing to read "
            "(restore it from a backup, or remove it to start a new ledger)"
        )
    if not ledger.exists() and not (folder / _JOURNALS).is_dir():
        raise FileNotFoundError(
            f"{folder} is not a state folder: it holds no ledger ({LEDGER_FILE}) "
            f"and no provenance journals ({hint})"
        )
    _ledger_kind(folder)


def _ledger_kind(folder: Path) -> None:
    """Refuse a ``ledger.sqlite3`` in ``folder`` that is damaged or another program's
    database (exit 3): a command that only reads never gives it the ledger's tables."""
    ledger = folder / LEDGER_FILE
    if ledger.is_file() and ledger.stat().st_size > 0:
        check_ledger_file(ledger)


#: The state folder's folder of provenance journals (:mod:`entrepot.provenance.journal`),
#: named here so that a command that only reads need not import the journals.
_JOURNALS = "provenance"


class LedgerChoice(NamedTuple):
    """The ledger a command records in, and as which instance (None: by
    ``$ENTREPOT_INSTANCE`` or the host name, :mod:`entrepot.instances`)."""

    state: Path | None
    url: str | None
    instance: str | None = None


def recorded(choice: LedgerChoice) -> LedgerChoice:
    """``choice`` for a command that only reads the ledger, when a configuration made it: a
    state folder that its ``[service] state`` names and that does not exist (with no ledger
    URL) is told as a mistake (exit 4), as :func:`recorded_in` tells one named by ``--state``."""
    if not choice.url and choice.state is not None:
        hint = "has the service run? check [service] state in the configuration"
        _state_folder(state_dir(choice.state), hint)
    elif not choice.url:
        _ledger_kind(state_dir(None))  # the default folder: read only if it is a ledger
    return choice


def open_ledger(
    state: Path | None = None, ledger_url: str | None = None, instance: str | None = None
) -> Ledger:
    """The ledger named on the command line (URL first, then the state folder), written
    as ``instance``."""
    from entrepot.jobs.ledger import Ledger

    if ledger_url:
        ledger = Ledger(ledger_url, instance=instance)
        if state is not None:
            ledger.state_dir = state_dir(state)  # its provenance journals stay local
        return ledger
    return Ledger.open(state_dir(state), instance=instance)


def arrivals_in(state: Path | None) -> SharedJournal | None:
    """The state folder's shared file of arrivals (:mod:`entrepot.provenance.shared`), for
    a command that does not open the ledger (``dc upload``, ``dc retire``); None when no
    state folder was named and the default one does not exist (a plain command on a
    machine that never ran a job leaves nothing behind)."""
    from entrepot.provenance.shared import ARRIVALS

    return _shared_in(state, ARRIVALS)


def receipts_in(state: Path | None) -> SharedJournal | None:
    """The state folder's shared receipts file, for ``spool put``; None as for
    :func:`arrivals_in`."""
    from entrepot.provenance.shared import SHARED

    return _shared_in(state, SHARED)


def recording_folder(state: Path | None) -> Path | None:
    """The state folder a command that does not open the ledger records into: the one
    named, or the default one if it exists; None otherwise (a plain command on a machine
    that never ran a job leaves nothing behind)."""
    folder = state_dir(state)
    return None if state is None and not folder.is_dir() else folder


def _shared_in(state: Path | None, name: str) -> SharedJournal | None:
    from entrepot.provenance.shared import SharedJournal

    folder = recording_folder(state)
    return None if folder is None else SharedJournal(folder, name)


@contextmanager
def ledger_rows(state: Path | None = None, ledger_url: str | None = None) -> Iterator[Rows]:
    """A reader of the ledger for :mod:`entrepot.jobs.summary`'s queries.

    The state folder's SQLite ledger is read directly; a ledger named by URL,
    or one that does not exist yet or needs an upgrade, is opened in full
    (which creates or upgrades it, as any command would).
    """
    if not ledger_url:
        with sqlite_reader(state_dir(state)) as rows:
            if rows is not None:
                yield rows
                return
    with open_ledger(state, ledger_url) as ledger:
        yield ledger.rows
