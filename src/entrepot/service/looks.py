"""What a file looks like from outside, to tell whether it changed between two looks.

A file's modification time alone is no proof: on a network file system it
comes from another machine's clock, and a program may set it as it likes.
So a look keeps the size, the modification time, the inode and the change
time (which only the kernel sets): two equal looks of one name mean that
nobody wrote to it, replaced it or touched it in between — as far as a
``stat`` can tell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["FileLook"]


@dataclass(frozen=True)
class FileLook:
    """A file's size, modification time, inode and change time (nanoseconds)."""

    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileLook:
        return cls(info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
