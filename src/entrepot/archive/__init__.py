"""Rolling event archives: checksummed records, roll-over, compression, hand-off.

Write events (a metadata dict of str → str and a payload) with
:class:`RollingWriter`; read them back with :class:`ArchiveReader` (one file)
or :class:`ArchiveSet` (many, oldest first).  The format is specified in
``docs/archive-format.md``; shoebox format-1 archives are read too.
"""

from __future__ import annotations

from entrepot.archive.format import FORMAT_VERSION, MAX_RECORD, ArchiveHeader, Record
from entrepot.archive.handoff import HandOff
from entrepot.archive.naming import DEFAULT_TEMPLATE, Template
from entrepot.archive.policies import (
    AgePolicy,
    AnyOf,
    CountPolicy,
    IdlePolicy,
    NeverPolicy,
    RollPolicy,
    SizePolicy,
    combine,
    load_policy,
)
from entrepot.archive.reader import (
    OPEN_SUFFIX,
    ArchiveReader,
    Damage,
    Report,
    read_archive,
    verify,
)
from entrepot.archive.recovery import recover_directory
from entrepot.archive.rolling import RollingWriter
from entrepot.archive.series import ArchiveSet, NoMoreFiles
from entrepot.archive.writer import ArchiveWriter

__all__ = [
    "DEFAULT_TEMPLATE",
    "FORMAT_VERSION",
    "MAX_RECORD",
    "OPEN_SUFFIX",
    "AgePolicy",
    "AnyOf",
    "ArchiveHeader",
    "ArchiveReader",
    "ArchiveSet",
    "ArchiveWriter",
    "CountPolicy",
    "Damage",
    "HandOff",
    "IdlePolicy",
    "NeverPolicy",
    "NoMoreFiles",
    "Record",
    "Report",
    "RollPolicy",
    "RollingWriter",
    "SizePolicy",
    "Template",
    "combine",
    "load_policy",
    "read_archive",
    "recover_directory",
    "verify",
]
