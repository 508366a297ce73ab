"""Claims on keys: a piece of work taken by one instance of a fleet at a time, or once.

Several services may share one ledger (a PostgreSQL database).  Work that is
not a job of its own — a route run marked ``shared``, an object of a bucket
to fetch, a file of a shared upload folder — is claimed here by a *kind* and a
*key* (an S3 object's key and ETag, a route's identity…):

* :meth:`ClaimLog.claim_key` takes the key for ``lease`` seconds, or says
  ``None`` when another instance holds it or it is done already.  One
  statement decides, so two instances never both hold a key: an insert that
  does nothing when the row exists, then, if it existed, an update that only
  takes a claim whose lease has run out.
* The holder's heartbeat renews all its claims (:meth:`ClaimLog.renew_keys`);
  a holder that died stops renewing and, once its lease has run out, the key
  can be claimed by another instance.
* :meth:`ClaimLog.finish_key` marks the work done: the key is never claimed
  again.  :meth:`ClaimLog.release_key` lets go of it without doing it.
* :meth:`ClaimLog.land_key` says the holder is about to make its work
  visible (a fetched file is renamed into a spool next).  A claim *landing*
  is never taken over when its lease runs out: whether the work became
  visible is known only where it was done, so such a claim, once lapsed, is
  *in doubt* (:meth:`ClaimLog.claims_in_doubt`) until its holder, or an
  operator, finishes or releases it.

Each claim carries a random token: an instance whose lease ran out (and was
taken over) cannot finish or release the new holder's claim.  The token
starts with the mark of the process that claimed (:func:`process_mark`): a
service's heartbeat renews its own process's claims only, never those a
dead process under the same name left.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import groups
from entrepot.jobs.clock import Clock
from entrepot.jobs.schema import UTCDateTime, metadata

__all__ = ["Claim", "ClaimLog", "add_landing", "claims_table", "process_mark"]

#: Hex digits of a claim's token that name the process that claimed (the rest is random).
MARK_DIGITS = 8
_marks: dict[int, str] = {}


def process_mark() -> str:
    """This process's random mark, the first :data:`MARK_DIGITS` of its claims' tokens
    (a new one in a forked child)."""
    pid = os.getpid()
    if pid not in _marks:
        _marks[pid] = secrets.token_hex(MARK_DIGITS // 2)
    return _marks[pid]


claims_table = sa.Table(
    "entrepot_claims",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime),
    sa.Column("detail", sa.JSON),
    sa.Column("landing_at", UTCDateTime),
    sa.Index("ix_entrepot_claims_holder", "holder"),
)


@dataclass(frozen=True)
class Claim:
    """A key held by an instance until ``expires_at`` (or done, at ``done_at``)."""

    kind: str
    key: str
    holder: str
    token: str
    claimed_at: datetime
    expires_at: datetime
    done_at: datetime | None = None
    detail: dict[str, Any] | None = None
    landing_at: datetime | None = None
    """When its holder said the work was about to become visible (:meth:`ClaimLog.land_key`)."""

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def in_doubt(self, now: datetime) -> bool:
        """Landing, not done, and its lease ran out: only its holder knows how it ended."""
        return self.landing_at is not None and self.done_at is None and self.expires_at < now


def _claim(row: sa.Row[Any]) -> Claim:
    m = row._mapping
    detail = m["detail"]
    return Claim(
        kind=m["kind"],
        key=m["key"],
        holder=m["holder"],
        token=m["token"],
        claimed_at=m["claimed_at"],
        expires_at=m["expires_at"],
        done_at=m["done_at"],
        detail=dict(detail) if detail is not None else None,
        landing_at=m["landing_at"],
    )


def add_landing(conn: Connection) -> None:
    """Migration 5: the claims' ``landing_at`` (where version 3 made the table without it)."""
    present = {column["name"] for column in sa.inspect(conn).get_columns(claims_table.name)}
    if "landing_at" not in present:
        kind = claims_table.c.landing_at.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {claims_table.name} ADD COLUMN landing_at {kind}"))


def _insert_once(dialect: str) -> Any:
    """An insert of ``claims_table`` that does nothing when the key's row exists."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(claims_table).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(claims_table).on_conflict_do_nothing()


class ClaimLog:
    """Claims on keys; mixed into :class:`~entrepot.jobs.Ledger`, which gives the engine."""

    clock: Clock
    instance: str
    _engine: Engine

    def _tx(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def claim_key(
        self,
        kind: str,
        key: str,
        *,
        lease: float,
        instance: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Claim | None:
        """Claim ``key`` of ``kind`` for ``instance`` (the ledger's own by default).

        Returns the claim, held for ``lease`` seconds (renewed by
        :meth:`renew_keys`), or ``None`` when another claim on the key is
        still held — by any instance, this one included —, is landing (even
        lapsed: in doubt), or the key's work is done.
        """
        if lease <= 0:
            raise ValueError("a claim's lease must be longer than zero")
        holder = instance or self.instance
        now = self.clock.now()
        values = {
            "kind": kind,
            "key": key,
            "holder": holder,
            "token": process_mark() + secrets.token_hex(16 - MARK_DIGITS // 2),
            "claimed_at": now,
            "expires_at": now + timedelta(seconds=lease),
            "done_at": None,
            "detail": dict(detail) if detail is not None else None,
            "landing_at": None,
        }
        with self._tx() as conn:
            insert = _insert_once(conn.dialect.name).values(**values)
            if conn.dialect.insert_returning:
                # RETURNING says whether the row went in (a driver may not count it).
                taken = conn.execute(insert.returning(claims_table.c.token)).first() is not None
            else:  # SQLite before 3.35 (Debian 11's, Ubuntu 20.04's): it counts it
                taken = conn.execute(insert).rowcount == 1
            if not taken:
                c = claims_table.c
                taken = (
                    conn.execute(
                        claims_table.update()
                        .where(c.kind == kind, c.key == key)
                        .where(c.done_at.is_(None), c.landing_at.is_(None))
                        .where(c.expires_at < now)
                        .values(**{k: v for k, v in values.items() if k not in ("kind", "key")})
                    ).rowcount
                    == 1
                )
        if not taken:
            return None
        return Claim(**values)  # type: ignore[arg-type]

    def key_claim(self, kind: str, key: str) -> Claim | None:
        """The claim on ``key`` as the ledger has it (held, lapsed or done), if any."""
        c = claims_table.c
        with self._engine.connect() as conn:
            row = conn.execute(claims_table.select().where(c.kind == kind, c.key == key)).first()
        return _claim(row) if row is not None else None

    def finish_key(self, claim: Claim, detail: Mapping[str, Any] | None = None) -> bool:
        """Mark ``claim``'s work done for good; False when the claim was lost meanwhile."""
        values: dict[str, Any] = {"done_at": self.clock.now()}
        if detail is not None:
            values["detail"] = dict(detail)
        return self._by_token(claim, claims_table.update().values(**values))

    def release_key(self, claim: Claim) -> bool:
        """Let go of ``claim`` without its work done; False when it was lost meanwhile."""
        return self._by_token(claim, claims_table.delete())

    def land_key(self, claim: Claim, detail: Mapping[str, Any]) -> Claim | None:
        """Say that ``claim``'s work becomes visible next (``detail`` tells where).

        From now on the claim is never taken over: lapsed, it is in doubt.
        Returns the claim as it now is, or None when it was lost meanwhile —
        then the work must not be made visible.
        """
        now = self.clock.now()
        statement = claims_table.update().where(claims_table.c.expires_at >= now)
        if not self._by_token(claim, statement.values(landing_at=now, detail=dict(detail))):
            return None
        return dataclasses.replace(claim, landing_at=now, detail=dict(detail))

    def renew_key(self, claim: Claim, lease: float) -> bool:
        """Extend ``claim`` by ``lease`` seconds from now; False when it was lost."""
        until = self.clock.now() + timedelta(seconds=lease)
        return self._by_token(claim, claims_table.update().values(expires_at=until))

    def claims_in_doubt(self, kind: str, prefix: str = "") -> list[Claim]:
        """The claims of ``kind`` (keys starting with ``prefix``) that are in doubt:
        landing, not done, their lease run out — oldest first."""
        c = claims_table.c
        query = (
            claims_table.select()
            .where(c.kind == kind, c.landing_at.is_not(None), c.done_at.is_(None))
            .where(c.expires_at < self.clock.now())
            .order_by(c.landing_at)
        )
        if prefix:
            query = query.where(c.key.startswith(prefix, autoescape=True))
        with self._engine.connect() as conn:
            return [_claim(row) for row in conn.execute(query)]

    def live_tokens(self, tokens: Collection[str]) -> set[str]:
        """Those of ``tokens`` that belong to a claim not done (held, or in doubt)."""
        if not tokens:
            return set()
        c = claims_table.c
        live: set[str] = set()
        with self._engine.connect() as conn:
            for group in groups(sorted(tokens)):
                query = sa.select(c.token).where(c.token.in_(group), c.done_at.is_(None))
                live.update(conn.execute(query).scalars())
        return live

    def _by_token(self, claim: Claim, statement: Any) -> bool:
        c = claims_table.c
        where = (c.kind == claim.kind, c.key == claim.key, c.token == claim.token)
        with self._tx() as conn:
            return bool(conn.execute(statement.where(*where, c.done_at.is_(None))).rowcount == 1)

    def renew_keys(
        self, lease: float, instance: str | None = None, *, since: datetime | None = None
    ) -> int:
        """Extend every claim ``instance`` still holds by ``lease`` seconds from now
        (only those claimed at ``since`` or later, when given)."""
        with self._tx() as conn:
            return renew_claims(conn, instance or self.instance, self.clock.now(), lease, since)


def renew_claims(
    conn: Connection,
    holder: str,
    now: datetime,
    lease: float,
    since: datetime | None = None,
    *,
    mark: str | None = None,
) -> int:
    """Extend ``holder``'s claims that are not done, in ``conn``'s transaction.

    A running service passes ``since``, its start, and ``mark``, its process's
    (:func:`process_mark`): the claims its name holds from an earlier life
    (a process killed before it let them go), or that another process under
    the same name took, are not its own to keep alive — they lapse, and are
    taken over or settled.
    """
    c = claims_table.c
    statement = claims_table.update().where(c.holder == holder, c.done_at.is_(None))
    if since is not None:
        statement = statement.where(c.claimed_at >= since)
    if mark is not None:
        statement = statement.where(c.token.startswith(mark, autoescape=True))
    return int(conn.execute(statement.values(expires_at=now + timedelta(seconds=lease))).rowcount)
