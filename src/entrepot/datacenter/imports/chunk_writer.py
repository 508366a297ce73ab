"""Writing one checked chunk of rows: database checks, then insert, update or delete.

The checks that need the database run here, inside the chunk's
transaction: in ``create`` mode a key must not exist yet, in ``update`` and
``remove`` it must; referenced values must exist in their table.  Rows that
fail get their reason added to the chunk; the others are written.

:meth:`ChunkWriter.commit` writes a chunk and its bookkeeping row in one
transaction.  On PostgreSQL another session may write a key between this
one's look-ups and its writes; the database then refuses the chunk, and it
is written again under a :class:`~entrepot.jobs.RetryPolicy` with the
database's verdicts forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from entrepot.datacenter import table_rows
from entrepot.datacenter.backups import append_backup
from entrepot.datacenter.database import Database
from entrepot.datacenter.imports import fast_path
from entrepot.datacenter.imports.header import HeaderPlan
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.imports.record import ImportRecord
from entrepot.datacenter.imports.row_checks import CheckedChunk, describe_key
from entrepot.datacenter.table_schema import Schema, TableSpec
from entrepot.datacenter.values import ColumnConverter
from entrepot.jobs.retry import RetryPolicy
from entrepot.logs import log_event

logger = logging.getLogger(__name__)


def _raced(error: BaseException) -> bool:
    """Whether writing the chunk again may succeed: another writer got in between.

    A lost connection is not such a case: the import's job retries it later.
    """
    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, OperationalError) and not error.connection_invalidated


#: Tries of one chunk, at once one after the other: a race is over when it is seen.
CHUNK_RETRY = RetryPolicy.fixed(3, 0.0, retryable=_raced)


class ChunkWriter:
    """Writes the chunks of one import into ``table``."""

    def __init__(
        self,
        db: Database,
        schema: Schema,
        spec: TableSpec,
        table: Table,
        options: ImportOptions,
        deleted: Path,
    ) -> None:
        self.db = db
        self.schema = schema
        self.spec = spec
        self.table = table
        self.mode = options.mode
        #: An update whose empty cells clear the stored values.
        self.clears = options.mode == "update" and options.empty == "clear"
        #: Where rows removed in ``remove`` mode are backed up first.
        self.deleted = deleted

    def commit(
        self,
        chunk: CheckedChunk,
        plan: HeaderPlan,
        number: int,
        record: ImportRecord,
        elapsed: Callable[[], float],
    ) -> int:
        """Write chunk ``number`` and its bookkeeping row in one transaction; return rows stored."""
        checked = {pos: list(problems) for pos, problems in chunk.errors.items()}
        policy = CHUNK_RETRY
        while True:
            try:
                with self.db.begin() as conn:
                    ok = self.write(conn, chunk, plan)
                    record.add_chunk(conn, number, chunk, ok)
                    record.update(conn, duration=elapsed())
            except (IntegrityError, OperationalError) as exc:
                decision = policy.increment(exc, step="commit")
                if not decision.retry or record.chunk_committed(number):
                    raise
                policy = decision.policy
                log_event(
                    logger,
                    "datacenter.chunk_retry",
                    logging.WARNING,
                    job=record.import_id,
                    chunk=number,
                    error=exc,
                )
                # Forget the database's verdicts of the failed try.
                chunk.errors = {pos: list(problems) for pos, problems in checked.items()}
                continue
            log_event(
                logger,
                "datacenter.chunk_committed",
                logging.DEBUG,
                job=record.import_id,
                chunk=number,
                ok=ok,
            )
            return ok

    def write(self, conn: Connection, chunk: CheckedChunk, plan: HeaderPlan) -> int:
        """Check against the database and write the good rows; return how many."""
        table, spec = self.table, self.spec
        key_names = list(spec.key)
        candidates = chunk.good_positions()
        key_title = ", ".join(key_names)
        if self.mode == "create" and (
            table_rows.table_is_empty(conn, table) or self._keys_in_a_free_range(conn, chunk)
        ):
            # A first load into an empty table (or past its keys) needs no look-ups.
            good = candidates
        else:
            # Rows without errors all have a key.
            every_key = chunk.key_list()
            keys = [
                key
                for key in (every_key if not chunk.errors else [every_key[p] for p in candidates])
                if key is not None
            ]
            present = table_rows.existing_keys(conn, table, key_names, keys)
            # Keys are unique among the candidates: when none exists (create) or
            # all exist (update, remove), every candidate passes.
            all_pass = not present if self.mode == "create" else len(present) == len(keys)
            good = candidates if all_pass else []
            if not all_pass:
                for pos, key in zip(candidates, keys, strict=True):
                    if self.mode == "create" and key in present:
                        chunk.fail(pos, key_title, f"already exists: {describe_key(key)}")
                    elif self.mode != "create" and key not in present:
                        chunk.fail(pos, key_title, f"no such entry: {describe_key(key)}")
                    else:
                        good.append(pos)
        if self.mode != "remove":
            good = self._check_references(conn, chunk, good)
        if not good:
            return 0
        if self.mode == "create":
            self._insert(conn, chunk, plan, good)
        elif self.mode == "update":
            names = plan.used_names
            rows = [{name: chunk.values[name][pos] for name in names} for pos in good]
            table_rows.update_rows(conn, table, key_names, rows, clear=self.clears)
        else:
            every_key = chunk.key_list()
            good_keys = [every_key[pos] for pos in good]
            keys_only = [key for key in good_keys if key is not None]
            removed = table_rows.fetch_rows(conn, table, key_names, keys_only)
            append_backup(self.db, conn, self.deleted, spec.name, spec.column_names, removed)
            table_rows.delete_rows(conn, table, key_names, keys_only)
        return len(good)

    def _keys_in_a_free_range(self, conn: Connection, chunk: CheckedChunk) -> bool:
        # Every row's key is valid here (see RowChecker._check_keys), those of
        # failed rows too: the range they span covers the candidates'.
        columns = chunk.key_columns
        if columns is None or len(columns) != 1:
            return False
        return table_rows.range_is_free(conn, self.table, self.spec.key[0], columns[0])

    def _check_references(
        self, conn: Connection, chunk: CheckedChunk, good: list[int]
    ) -> list[int]:
        for name, column in self.spec.columns.items():
            if column.references is None or name not in chunk.values:
                continue
            other_name, other_column = column.references.split(".")
            other = self.db.table(self.schema.table(other_name), create=False)
            values = chunk.values[name]
            wanted = [values[pos] for pos in good if values[pos] is not None]
            found = table_rows.existing_values(conn, other, other_column, wanted)
            still_good = []
            for pos in good:
                value = values[pos]
                if value is not None and value not in found:
                    chunk.fail(pos, name, f"no {column.references} {describe_key((value,))}")
                else:
                    still_good.append(pos)
            good = still_good
        return good

    def _insert(
        self, conn: Connection, chunk: CheckedChunk, plan: HeaderPlan, good: list[int]
    ) -> None:
        raw = chunk.raw_arrow if chunk.raw_arrow is not None else chunk.raw_rows
        if raw is not None:
            chosen = None if len(good) == chunk.size else good
            fast_path.insert_raw(
                conn, self.table, plan.used, chunk.raw_forms, raw, plan.width, chosen
            )
            return
        names: list[str] = []
        columns: list[list[Any]] = []
        every = len(good) == chunk.size
        for name in plan.used_names:
            values = chunk.values[name]
            names.append(name)
            columns.append(values if every else [values[pos] for pos in good])
        for name in plan.absent:
            spec = self.spec.columns[name]
            default = spec.default_text
            value = None
            if default is not None:
                converter = ColumnConverter(name, spec)
                converted, _ = converter.convert([default], required=False)
                value = converted[0]
            names.append(name)
            columns.append([value] * len(good))
        table_rows.bulk_insert(conn, self.table, names, columns)
