"""The import pipeline: a CSV file of the data center into a database table.

The modules, in the order an import uses them:

=====================  ======================================================
:mod:`.options`        :class:`ImportOptions`: mode, encoding, chunk and
                       transaction sizes, reader, limits — one frozen value, checked once
:mod:`.lock`           one import of a file at a time (:class:`ImportLock`)
:mod:`.record`         the import's bookkeeping rows (:class:`ImportRecord`)
:mod:`.limits`         every source read within the limits (decompressed
                       size, line length); :mod:`.csv_rows` reads rows with
                       the ``csv`` module and reports a quote never closed
:mod:`.source`         :class:`SourceFile`: header, digest, chunks — by
                       :mod:`.arrow_reader` where Arrow reads as the ``csv``
                       module would, else by the ``csv`` module
:mod:`.header`         the header checked against the table (:class:`HeaderPlan`)
:mod:`.row_checks`     each chunk's cells checked without the database, over
                       the column interface of :mod:`.cells`
:mod:`.check_ahead`    the next chunks checked in a thread or a second process
:mod:`.fast_path`      clean chunks stored as their text (multi-row INSERT, COPY)
:mod:`.chunk_writer`   the database checks and writes of a chunk
:mod:`.committer`      chunks committed a few to a transaction, each with
                       its bookkeeping row, under a retry policy
:mod:`.row_files`      the finished and pending row files, from the source
                       and the bookkeeping rows
:mod:`.placement`      where the source and its row files go
:mod:`.finishing`      the last stage: files placed, the log line, the result
:mod:`.importer`       :class:`Importer`: the steps prepare, produce, send,
                       cleanup
:mod:`.import_job`     :class:`ImportJob`: the import as a job of the ledger
=====================  ======================================================

The public names are exported by :mod:`entrepot.datacenter`; this package
imports nothing itself, so that :mod:`.import_job`, which opens a
:class:`~entrepot.datacenter.DataCenter`, may come last.
"""
