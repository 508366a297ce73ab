"""Claims landing and claims of an earlier life (issue 16: each object fetched once
across the fleet): a claim marked landing is never taken over, even lapsed — it is
in doubt until settled; an instance's heartbeat renews only what this life of it
claimed.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from entrepot.db import schema_version
from entrepot.jobs import FakeClock, Ledger
from entrepot.jobs.migrations import MIGRATIONS

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ledgers(tmp_path: Path) -> tuple[FakeClock, Ledger, Ledger]:
    clock = FakeClock(START)
    url = f"sqlite:///{tmp_path / 'fleet.sqlite3'}"
    return (
        clock,
        Ledger(url, clock=clock, instance="alpha"),
        Ledger(url, clock=clock, instance="beta"),
    )


def test_a_lapsed_claim_landing_is_in_doubt_not_taken_over(tmp_path: Path) -> None:
    clock, alpha, beta = _ledgers(tmp_path)
    with alpha, beta:
        claim = alpha.claim_key("object", "k", lease=60)
        assert claim is not None
        landing = alpha.land_key(claim, {"landing": {"local": "k.csv"}})
        assert landing is not None and landing.landing_at == START
        assert alpha.claims_in_doubt("object") == []  # its lease holds
        clock.advance(61)
        assert beta.claim_key("object", "k", lease=60) is None
        [doubt] = beta.claims_in_doubt("object")
        assert (doubt.holder, doubt.detail) == ("alpha", {"landing": {"local": "k.csv"}})
        assert doubt.in_doubt(clock.now())
        assert beta.release_key(doubt)  # settled: fetched again
        assert beta.claim_key("object", "k", lease=60) is not None


def test_a_lapsed_claim_cannot_land_and_a_taken_one_cannot_be_renewed(tmp_path: Path) -> None:
    clock, alpha, beta = _ledgers(tmp_path)
    with alpha, beta:
        claim = alpha.claim_key("object", "k", lease=60)
        assert claim is not None
        clock.advance(30)
        assert alpha.renew_key(claim, 60)
        clock.advance(61)
        assert alpha.land_key(claim, {}) is None  # lapsed: another may be taking it
        taken = beta.claim_key("object", "k", lease=60)
        assert taken is not None
        assert not alpha.renew_key(claim, 60)
        assert alpha.live_tokens({claim.token, taken.token}) == {taken.token}


def test_a_heartbeat_renews_only_the_claims_of_this_life(tmp_path: Path) -> None:
    clock, alpha, beta = _ledgers(tmp_path)
    with alpha, beta:
        earlier = alpha.claim_key("object", "old", lease=60)  # then alpha was killed
        clock.advance(10)
        again = Ledger(f"sqlite:///{tmp_path / 'fleet.sqlite3'}", clock=clock, instance="alpha")
        started = clock.now()  # alpha starts again
        now = again.claim_key("object", "new", lease=60)
        assert earlier is not None and now is not None
        for _ in range(10):
            clock.advance(20)
            again.beat(started_at=started, generation=1, every=10, lease=60, report={})
        again.close()
        assert beta.claim_key("object", "old", lease=60) is not None  # lapsed, taken over
        assert beta.claim_key("object", "new", lease=60) is None  # renewed all along


def test_a_ledger_of_version_4_gets_the_claims_landing_column(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger, ledger.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE entrepot_claims DROP COLUMN landing_at"))
        conn.execute(sa.text("UPDATE entrepot_schema SET version = 4 WHERE component = 'ledger'"))
    with Ledger.open(tmp_path) as ledger:
        assert schema_version(ledger.engine, "ledger") == MIGRATIONS[-1].version
        columns = {c["name"] for c in sa.inspect(ledger.engine).get_columns("entrepot_claims")}
        assert "landing_at" in columns
        assert ledger.claim_key("object", "k", lease=60) is not None


def test_live_tokens_are_found_among_more_than_one_statement_can_bind(tmp_path: Path) -> None:
    # A landing folder may hold more downloads than SQLite's oldest builds bind values in
    # one statement (999; the tests' connections are held to it).
    _, alpha, beta = _ledgers(tmp_path)
    with alpha, beta:
        claims = [alpha.claim_key("object", f"k{number}", lease=60) for number in range(3)]
        live = {claim.token for claim in claims if claim is not None}
        assert len(live) == 3
        done = alpha.claim_key("object", "finished", lease=60)
        assert done is not None and alpha.finish_key(done)
        # Sorted among them, the live tokens fall after a whole first list of strangers.
        strangers = {f"0-{number:04d}" for number in range(1000)} | {f"~{n}" for n in range(600)}
        assert alpha.live_tokens(strangers | live | {done.token}) == live


def test_claims_are_taken_once_on_a_sqlite_without_returning(tmp_path: Path) -> None:
    # SQLite before 3.35 (Debian 11's, Ubuntu 20.04's) has no RETURNING: SQLAlchemy says
    # so in the dialect, and such a statement fails there as it would on that SQLite.
    clock, alpha, beta = _ledgers(tmp_path)
    for ledger in (alpha, beta):
        ledger.engine.dialect.insert_returning = False

        @sa.event.listens_for(ledger.engine, "before_cursor_execute")
        def _no_returning(*args: object) -> None:
            if "RETURNING" in str(args[2]).upper():
                raise sqlite3.OperationalError('near "RETURNING": syntax error')

    with alpha, beta:
        claim = alpha.claim_key("object", "k", lease=60)
        assert claim is not None and claim.holder == "alpha"
        assert beta.claim_key("object", "k", lease=60) is None  # held
        clock.advance(61)
        taken = beta.claim_key("object", "k", lease=60)  # lapsed: taken over
        assert taken is not None and taken.holder == "beta"
        assert not alpha.renew_key(claim, 60)
        assert alpha.claim_key("object", "other", lease=60) is not None
