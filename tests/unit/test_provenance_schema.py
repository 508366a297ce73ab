"""The provenance tables of older ledgers, brought up to date on SQLite."""

from __future__ import annotations

import sqlalchemy as sa

from entrepot.provenance import Kind, Recorder
from entrepot.provenance.reader import file_histories


def test_a_version_1_ledger_gets_the_index_on_files(engine: sa.Engine) -> None:
    from entrepot.db import ensure_schema
    from entrepot.provenance.schema import MIGRATIONS

    ensure_schema(engine, "provenance", MIGRATIONS[:1])
    with engine.begin() as conn:  # the indexes version 1 made
        conn.exec_driver_sql(
            "CREATE INDEX ix_entrepot_provenance_name ON entrepot_provenance (name, at)"
        )
    ensure_schema(engine, "provenance", MIGRATIONS)
    names = {index["name"] for index in sa.inspect(engine).get_indexes("entrepot_provenance")}
    assert "ix_entrepot_provenance_names" in names
    assert not names & {"ix_entrepot_provenance_name", "ix_entrepot_provenance_file"}


def _older_ledger(engine: sa.Engine, version: int, *changes: str) -> None:
    """The provenance tables as of ``version`` (``changes`` making them so), holding
    one receipt of ``old.csv`` in ``/out``; then brought up to date."""
    from entrepot.db import ensure_schema
    from entrepot.provenance.schema import MIGRATIONS

    ensure_schema(engine, "provenance", MIGRATIONS[:version])
    with engine.begin() as conn:
        for change in changes:
            conn.exec_driver_sql(change)
        conn.exec_driver_sql(
            "INSERT INTO entrepot_provenance (at, kind, place, name, outcome, details, checksum)"
            " VALUES (1.0, 'received', '/out', 'old.csv', 'ok', '{}', 'sha256:01')"
        )
    ensure_schema(engine, "provenance", MIGRATIONS)


def test_a_version_5_ledger_s_index_on_files_loses_the_place(engine: sa.Engine) -> None:
    from entrepot.db import schema_version

    _older_ledger(  # the index versions 2 to 5 had
        engine, 5,
        "CREATE INDEX ix_entrepot_provenance_file ON entrepot_provenance (name, place, kind, at)",
    )  # fmt: skip
    assert schema_version(engine, "provenance") == 8
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes(
        "entrepot_provenance")}  # fmt: skip
    assert indexes["ix_entrepot_provenance_names"] == ["name", "kind", "at"]
    assert "ix_entrepot_provenance_file" not in indexes
    assert file_histories(engine, "/out", ["old.csv"]) == {"old.csv": ("sha256:01", 0)}


def test_a_version_6_ledger_gets_fresh_events_and_keeps_its_own_in_the_index_on_names(
    engine: sa.Engine,
) -> None:
    from entrepot.db import schema_version

    _older_ledger(  # the table and index of version 6: no column "fresh"
        engine, 6,
        "ALTER TABLE entrepot_provenance DROP COLUMN fresh",
        "CREATE INDEX ix_entrepot_provenance_names ON entrepot_provenance (name, kind, at)",
    )  # fmt: skip
    assert schema_version(engine, "provenance") == 8
    with engine.connect() as conn:
        listed = "SELECT name, sql FROM sqlite_master WHERE name LIKE 'ix_entrepot_provenance_%'"
        made = {row[0]: row[1] for row in conn.exec_driver_sql(listed)}
        old = conn.exec_driver_sql("SELECT fresh FROM entrepot_provenance").scalar_one()
    assert made["ix_entrepot_provenance_names"].endswith("WHERE fresh IS NULL")
    assert made["ix_entrepot_provenance_fresh"].endswith("WHERE fresh = 1")
    assert old is None  # the events already recorded are in the index on names
    with Recorder(engine) as recorder:
        recorder.record(Kind.RECEIVED, "/out", "new.csv", checksum="sha256:02")
    assert file_histories(engine, "/out", ["old.csv", "new.csv"]) == {
        "old.csv": ("sha256:01", 0), "new.csv": ("sha256:02", 0)}  # fmt: skip
