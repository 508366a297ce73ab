"""Multipart uploads to S3: from the file by its name when it can, else from the stream.

boto3's transfer manager reads the parts of a named file in parallel, each
in a thread of its own (faster than reading a stream in order), so a file
whose name gives exactly the bytes to send is uploaded by its name — past
any tap on the stream (:mod:`.tap`), which hashes the file by reading it
beside the upload (:func:`~.tap.sent_past`).  Anything else is read from
the stream, through its tap.
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any

from entrepot.targets.tap import sent_past
from entrepot.targets.transfer import Progress

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

__all__ = ["upload_parts"]


def upload_parts(
    client: Any,
    bucket: str,
    key: str,
    src: IO[bytes],
    size: int,
    config: TransferConfig,
    progress: Progress,
) -> None:
    """Upload ``size`` bytes of ``src`` (from its start) to ``key`` in parts."""
    name = getattr(src, "name", None)
    if not (isinstance(name, str) and src.tell() == 0 and os.path.getsize(name) == size):
        client.upload_fileobj(src, bucket, key, Config=config, Callback=progress)
        return
    told, sent = sent_past(src, 0, size), 0
    try:
        client.upload_file(name, bucket, key, Config=config, Callback=progress)
        sent = size
    finally:
        told(sent)
