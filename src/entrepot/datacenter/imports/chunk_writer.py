"""Writing one checked chunk of rows: database checks, then insert, update or delete.

The checks that need the database run here, inside the transaction that
writes the chunk (see :mod:`.committer`): in ``create`` mode a key must not
exist yet, in ``update`` and ``remove`` it must; referenced values must
exist in their table.  Rows that fail get their reason added to the chunk;
the others are written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from entrepot.datacenter import table_rows
from entrepot.datacenter.backups import append_backup
from entrepot.datacenter.database import Database
from entrepot.datacenter.imports import fast_path
from entrepot.datacenter.imports.header import HeaderPlan
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.imports.row_checks import CheckedChunk, describe_key
from entrepot.datacenter.imports.source import NumberedChunk
from entrepot.datacenter.table_schema import Schema, TableSpec
from entrepot.datacenter.values import ColumnConverter

#: Not looked at yet.
_UNSEEN: Any = object()


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
        #: The backups in ``deleted`` this writer appended removed rows to (names).
        self.backups: set[str] = set()
        # What the table held as the transaction began, each looked at once:
        # whether it was empty, its greatest key (None: empty).
        self._empty_at_start: bool | None = None
        self._top: Any = _UNSEEN

    def begin(self) -> None:
        """A new transaction begins: what the table holds is to be seen again."""
        self._empty_at_start = None
        self._top = _UNSEEN

    def prepare(self, item: NumberedChunk, plan: HeaderPlan) -> NumberedChunk:
        """Make a create chunk's rows as the database takes them, before they are written.

        Run while the chunk before is written (the database then works
        without the GIL); used when every row of the chunk is written.
        """
        chunk = item[2]
        raw = None if chunk is None else chunk.raw_arrow or chunk.raw_rows
        if chunk is not None and raw is not None and self.mode == "create" and not chunk.errors:
            dialect = self.db.engine.dialect.name
            chunk.prepared = fast_path.raw_rows(
                dialect, plan.used, chunk.raw_forms, raw, plan.width
            )
        return item

    def write(self, conn: Connection, chunk: CheckedChunk, plan: HeaderPlan) -> int:
        """Check against the database and write the good rows; return how many."""
        table, spec = self.table, self.spec
        key_names = list(spec.key)
        candidates = chunk.good_positions()
        key_title = ", ".join(key_names)
        if self.mode == "create" and self._keys_are_new(conn, chunk):
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
            backup = append_backup(
                self.db, conn, self.deleted, spec.name, spec.column_names, removed
            )
            self.backups.add(backup.name)
            table_rows.delete_rows(conn, table, key_names, keys_only)
        return len(good)

    def _keys_are_new(self, conn: Connection, chunk: CheckedChunk) -> bool:
        """Whether no stored row can have a key of the chunk's rows: no look-ups needed.

        So when the table was empty as the transaction began, or every key of
        the chunk is above the greatest stored then, or no stored key lies
        within the chunk's range.  Rows written since by this transaction do
        not count: the checker keeps this import's keys unique.  Nobody else
        writes meanwhile on SQLite (the write lock); on PostgreSQL the key
        constraint refuses another session's key, and the transaction is
        written again with look-ups.
        """
        # Every row's key is valid in key_columns (see RowChecker._check_keys),
        # those of failed rows too: the range they span covers the candidates'.
        columns = chunk.key_columns
        if columns is None or len(columns) != 1 or not columns[0]:
            return self._empty_table(conn)
        values = columns[0]
        if not table_rows.orders_like_python(conn, values[0]):
            return self._empty_table(conn)
        if self._top is _UNSEEN:
            self._top = table_rows.greatest_key(conn, self.table, self.spec.key[0])
        top = self._top
        if top is None or (type(top) is type(values[0]) and min(values) > top):
            return True
        return table_rows.range_is_free(conn, self.table, self.spec.key[0], values)

    def _empty_table(self, conn: Connection) -> bool:
        if self._empty_at_start is None:
            self._empty_at_start = table_rows.table_is_empty(conn, self.table)
        return self._empty_at_start

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
            rows = chunk.prepared if chosen is None else None
            if rows is None:
                rows = fast_path.raw_rows(
                    conn.dialect.name, plan.used, chunk.raw_forms, raw, plan.width, chosen
                )
            fast_path.insert_prepared(conn, self.table, plan.used, chunk.raw_forms, rows)
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
