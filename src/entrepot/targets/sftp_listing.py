"""An SFTP folder's entries, whatever bytes their names hold.

paramiko's ``listdir_attr`` decodes every name as strict UTF-8: one file
whose name is not UTF-8 fails the whole listing (and leaves the folder's
handle open on the server), so a fetch could take none of the good files
beside it.  :func:`entries` asks the same requests and reads each name as
bytes, a byte that is not UTF-8 kept escaped (``surrogateescape``): the
name is listed, shown with its bytes as ``\\xNN``, and refused by the name
checks of whatever would make it a local file (:func:`entrepot.names.check_name`)
— skipped and reported, the rest fetched.  The folder's handle is closed
however the listing ends.  Each reply (a page of names) is told to
``answered``: the call's deadline then bounds each page, not the whole
listing of a folder of many files.

It speaks paramiko's SFTP requests through ``SFTPClient._request``, as
``listdir_attr`` does (paramiko 3.x).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR, SFTPError

__all__ = ["entries"]


def entries(
    sftp: paramiko.SFTPClient, path: str, answered: Callable[[], None] | None = None
) -> list[paramiko.SFTPAttributes]:
    """The entries of the folder ``path`` but ``.`` and ``..``, with lstat's attributes
    (as :meth:`paramiko.SFTPClient.listdir_attr` returns them); see the module."""
    client: Any = sftp  # its request methods are not part of its typed interface
    kind, msg = client._request(CMD_OPENDIR, client._adjust_cwd(path))
    if kind != CMD_HANDLE:
        raise SFTPError("Expected handle")
    handle = msg.get_binary()
    found: list[paramiko.SFTPAttributes] = []
    try:
        while True:
            try:
                kind, msg = client._request(CMD_READDIR, handle)
            except EOFError:  # the end of the folder
                break
            if kind != CMD_NAME:
                raise SFTPError("Expected name response")
            if answered is not None:
                answered()
            for _ in range(msg.get_int()):
                name = msg.get_string().decode("utf-8", "surrogateescape")
                long_name = msg.get_string().decode("utf-8", "replace")
                attrs = paramiko.SFTPAttributes._from_msg(msg, name, long_name)
                if name not in {".", ".."}:
                    found.append(attrs)
    except BaseException:
        with contextlib.suppress(Exception):  # the connection may be what failed
            client._request(CMD_CLOSE, handle)
        raise
    client._request(CMD_CLOSE, handle)
    return found
