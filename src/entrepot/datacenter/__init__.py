"""The data center: CSV uploads, validated batch imports, sorted result files.

See ``docs/datacenter.md`` for a tour.  The main entry point is
:class:`DataCenter`; an :class:`Importer` does one import step by step, and
:class:`ImportJob` runs it as an Entrepôt job (ledger, retries, backlog).
Importing this package registers the ``import`` job kind.
"""

from entrepot.datacenter.center import AREAS, DataCenter
from entrepot.datacenter.database import Database
from entrepot.datacenter.imports.finishing import ImportResult
from entrepot.datacenter.imports.import_job import ImportJob
from entrepot.datacenter.imports.importer import Importer
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.imports.placement import distribute
from entrepot.datacenter.listing import FileInfo, human_size
from entrepot.datacenter.logfile import DataCenterLog
from entrepot.datacenter.storage import StorageTree
from entrepot.datacenter.table_schema import (
    ColumnSpec,
    Schema,
    TableSpec,
    load_schema,
    parse_schema,
)
from entrepot.datacenter.uploads import UploadPolicy, normalise_name

__all__ = [
    "AREAS",
    "ColumnSpec",
    "DataCenter",
    "DataCenterLog",
    "Database",
    "FileInfo",
    "ImportJob",
    "ImportOptions",
    "ImportResult",
    "Importer",
    "Schema",
    "StorageTree",
    "TableSpec",
    "UploadPolicy",
    "distribute",
    "human_size",
    "load_schema",
    "normalise_name",
    "parse_schema",
]
