"""The data center: one object for the storage, uploads, imports, exports and logs."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from sqlalchemy.engine import URL

from entrepot.datacenter.database import DEFAULT_SQLITE_NAME, Database
from entrepot.datacenter.export import export_rows, export_to_folder, export_to_spool
from entrepot.datacenter.imports.finishing import ImportResult
from entrepot.datacenter.imports.importer import Importer, ProgressCallback
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.listing import (
    FileInfo,
    SortKey,
    is_csv_name,
    is_finished_rows_name,
    is_log_name,
    list_files,
)
from entrepot.datacenter.logfile import DataCenterLog
from entrepot.datacenter.recording import retired
from entrepot.datacenter.retire import retire_rows
from entrepot.datacenter.storage import StorageTree, move_storage
from entrepot.datacenter.table_schema import Schema, load_schema
from entrepot.datacenter.uploads import UploadPolicy, store_upload
from entrepot.errors import SchemaError
from entrepot.spool.writing import Digest

if TYPE_CHECKING:
    from entrepot.provenance.journal import Arrivals

Area = Literal["pending", "finished", "unfinished", "deleted", "graduated", "logs"]
AREAS: tuple[Area, ...] = ("pending", "finished", "unfinished", "deleted", "graduated", "logs")

#: Looked for in the root when no schema is given.
SCHEMA_NAME = "schema.toml"


class DataCenter:
    """A data center rooted at ``root``.

    ``database`` is a SQLAlchemy URL (text or ``URL``) or a :class:`Database`;
    by default a SQLite file in the root's hidden state folder.  ``schema`` is a
    :class:`Schema` or the path of a TOML schema file; by default
    ``<root>/schema.toml``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        database: str | URL | Database | None = None,
        schema: Schema | str | os.PathLike[str] | None = None,
        upload_policy: UploadPolicy | None = None,
        create: bool = False,
    ) -> None:
        self.tree = StorageTree(Path(root).absolute()).ensure(create_root=create)
        self._database = database
        self._db: Database | None = database if isinstance(database, Database) else None
        self._schema_source = schema
        self._schema: Schema | None = schema if isinstance(schema, Schema) else None
        self.upload_policy = upload_policy or UploadPolicy()

    def __repr__(self) -> str:
        return f"DataCenter({str(self.root)!r})"

    @property
    def root(self) -> Path:
        return self.tree.root

    @property
    def log(self) -> DataCenterLog:
        return DataCenterLog(self.tree.logs)

    @property
    def database(self) -> Database:
        if self._db is None:
            if self._database is None:
                self._db = Database.sqlite_file(self.tree.ensure_state() / DEFAULT_SQLITE_NAME)
            else:
                assert not isinstance(self._database, Database)
                self._db = Database(self._database)
        return self._db

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            source = self._schema_source
            assert not isinstance(source, Schema)
            path = Path(source) if source is not None else self.root / SCHEMA_NAME
            if not path.exists():
                raise SchemaError(
                    f"no table schema: write {str(path)!r} (see docs/datacenter.md) or name one"
                )
            self._schema = load_schema(path)
        return self._schema

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()

    def __enter__(self) -> DataCenter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- storage -----------------------------------------------------------------

    def move_storage(
        self, new_root: str | os.PathLike[str], *, take_files: bool = False, **how: bool
    ) -> list[str]:
        """Use ``new_root`` from now on, copying the files there with ``take_files``.

        ``how`` takes ``overwrite`` and ``remove_old``; see
        :func:`~entrepot.datacenter.storage.move_storage`.
        """
        if take_files and self._db is not None and self._database is None:
            # The default database lives in the tree: close it before copying.
            self._db.dispose()
            self._db = None
        self.tree, not_copied = move_storage(self.tree, new_root, take_files=take_files, **how)
        return not_copied

    def upload(
        self,
        source: str | os.PathLike[str] | BinaryIO,
        name: str | None = None,
        *,
        user: str | None = None,
        digest: Digest | None = None,
    ) -> Path:
        """Store an uploaded CSV file; see :func:`~entrepot.datacenter.uploads.store_upload`."""
        if name is None:
            if not isinstance(source, str | os.PathLike):
                raise TypeError("name is required when uploading from a file object")
            name = Path(source).name
        return store_upload(
            self.tree, source, name, user=user, policy=self.upload_policy, digest=digest
        )

    def files(self, area: Area = "pending", *, sort: SortKey = "name") -> list[FileInfo]:
        """The files of one area (``pending`` means the root)."""
        if area == "pending":
            return list_files(self.root, sort=sort)
        if area == "logs":
            return list_files(self.tree.logs, accept=is_log_name, sort=sort)
        if area not in AREAS:
            raise ValueError(f"unknown area {area!r}: use one of {', '.join(AREAS)}")
        return list_files(self.root / area, accept=is_csv_name, sort=sort)

    def finished_rows_files(self, *, sort: SortKey = "date") -> list[FileInfo]:
        """The ``*.finished.csv`` files (rows imported so far), newest first by default."""
        return list_files(self.tree.finished, accept=is_finished_rows_name, sort=sort)

    # -- imports, exports ------------------------------------------------------------

    def importer(
        self,
        name: str,
        table: str,
        mode: str | None = None,
        *,
        options: ImportOptions | None = None,
        on_progress: ProgressCallback | None = None,
        job_id: str | None = None,
        **changes: Any,
    ) -> Importer:
        """The import of ``name`` into ``table``, to run step by step or with ``run()``.

        ``options`` (an :class:`ImportOptions`) says how; ``mode`` and any
        other of its fields given as keywords change it.  ``job_id`` is the
        id of the ledger job running the import, if any.
        """
        if mode is not None:
            changes["mode"] = mode
        return Importer(
            self.tree,
            self.database,
            self.schema,
            table,
            name,
            (options or ImportOptions()).replace(**changes),
            on_progress=on_progress,
            job_id=job_id,
        )

    def import_file(
        self, name: str, table: str, mode: str | None = None, **arguments: Any
    ) -> ImportResult:
        """Import ``name`` from the root into ``table``: :meth:`importer` ``(…).run()``.

        ``reader`` names who parses the rows: ``"arrow"`` (the default) lets
        Apache Arrow read and check them column-wise wherever it reads the
        file exactly as the ``csv`` module would (see
        :mod:`~entrepot.datacenter.imports.arrow_reader`), ``"csv"`` always
        uses the ``csv`` module.  ``parallel=True`` checks the chunks ahead in
        a second process instead (see
        :mod:`~entrepot.datacenter.imports.check_ahead`), which uses the
        ``csv`` module; with the ``csv`` reader and ``parallel=None`` that
        process is started for large files when two processors are free.
        """
        return self.importer(name, table, mode, **arguments).run()

    def export(
        self,
        table: str,
        *,
        where: Sequence[str] = (),
        to_spool: str | os.PathLike[str] | None = None,
        safe_cells: bool = True,
    ) -> tuple[str, int]:
        """Export ``table`` to ``exports/`` (or into a spool); return (path or entry, rows)."""
        write = functools.partial(
            export_rows, self.database, self.schema.table(table), where=where, safe_cells=safe_cells
        )
        if to_spool is not None:
            work = self.tree.ensure_state() / "exports"
            return export_to_spool(Path(to_spool), work, table, write)
        path, count = export_to_folder(self.root / "exports", table, write)
        return str(path), count

    def retire(
        self,
        table: str,
        *,
        where: Sequence[str],
        dry_run: bool = False,
        provenance: str | os.PathLike[str] | Arrivals | None = None,
    ) -> tuple[Path | None, int]:
        """Move matching rows to a ``graduated/`` backup and remove them.

        ``dry_run`` counts the rows that would go and changes nothing.
        ``provenance`` (a state folder, whose shared file of arrivals is written,
        or an open journal) records a ``retired`` event on the backup (table, rows,
        filters).
        """
        backup, count = retire_rows(
            self.database, self.schema.table(table), self.tree.graduated, where, dry_run=dry_run
        )
        if backup is not None and provenance is not None:
            retired(provenance, backup, table, count, where)
        return backup, count
