"""Reading source files: only regular text files, only up to a size, never a device.

An IDL file can name any path in `#include` or `import`. Reading `/dev/zero` would
never end, a FIFO would block forever, `/proc/self/environ` would put the environment
into an error message. So a source is opened without blocking, must be a regular file
whose size does not change as it is read (procfs and sysfs files report a size they do
not have), must fit the size limit, and must hold no NUL byte (a binary file). A
refusal is `RefusedSource`, which callers turn into a diagnostic.

Files not named like IDL or C headers are "opaque": a diagnostic in one names the place
but shows neither the line nor the text of a token, so an `#include "/etc/passwd"`
does not print the password file's first line.
"""

from __future__ import annotations

import os
import stat

from idlgen.limits import exceeded

# Suffixes of the files IDL includes and imports: their text may be quoted in messages.
IDL_TEXT_SUFFIXES = frozenset({".idl", ".acf", ".odl", ".h", ".hh", ".hpp", ".hxx", ".inl", ".idh"})

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class RefusedSource(Exception):
    """A path that names something other than a readable IDL text file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_source(path: str, max_bytes: int) -> str:
    """The text of the regular file `path`; OSError when it cannot be opened,
    `RefusedSource` when it is not a regular text file of at most `max_bytes`."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: opening a device may act
        raise RefusedSource("not a regular file")
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):  # replaced between the stat and the open
            raise RefusedSource("not a regular file")
        if info.st_size > max_bytes:
            raise RefusedSource(exceeded(f"size {info.st_size:,}", "file_bytes", max_bytes))
        # The size reported and one byte more, to see there is no more: asking for
        # `max_bytes + 1` at once made the reader allocate that much (8 MiB) per file.
        data = handle.read(info.st_size + 1)
        if len(data) > info.st_size:  # more than reported: read on as far as the limit
            data += handle.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise RefusedSource(exceeded("size", "file_bytes", max_bytes))
    if len(data) != info.st_size:
        raise RefusedSource("not a regular file (a pseudo file: its size is not its content)")
    if b"\0" in data:
        raise RefusedSource("not a text file (it holds NUL bytes)")
    return data.decode("utf-8", errors="replace")


def is_idl_text_name(path: str) -> bool:
    """Whether messages may quote this file's lines: it is named like IDL or a header."""
    return os.path.splitext(path)[1].lower() in IDL_TEXT_SUFFIXES
