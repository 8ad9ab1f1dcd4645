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

Texts read are remembered for the process, by path, with the file's identity, size and
times: a batch compiles many files that import the same headers, and every compile checks
its cached parses against the current text of each import (thousands of reads over the
Wine corpus, about a twentieth of a clean build). A remembered text is used only while a
`stat` still gives the same device, inode, size, mtime and ctime, and only if the file's
mtime was at least `_SETTLED_NS` older than the moment it was read: on a file system that
keeps times to the second, a file written again in the same second could otherwise look
unchanged (git's "racily clean" entries, the same rule). An edit changes the size or the
times, and `utime` cannot set ctime back, so an edited file is always read again.
"""

from __future__ import annotations

import os
import stat
import time

from idlgen.limits import exceeded

# Suffixes of the files IDL includes and imports: their text may be quoted in messages.
IDL_TEXT_SUFFIXES = frozenset({".idl", ".acf", ".odl", ".h", ".hh", ".hpp", ".hxx", ".inl", ".idh"})

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


# How long a file must have been left alone before its text is remembered (see above).
_SETTLED_NS = 3_000_000_000
# What remembered texts may hold in all, in characters; the oldest go first.
_REMEMBERED_CHARS = 64 << 20

# path -> ((device, inode, size, mtime_ns, ctime_ns), text)
_remembered: dict[str, tuple[tuple[int, int, int, int, int], str]] = {}
_remembered_chars = 0


class RefusedSource(Exception):
    """A path that names something other than a readable IDL text file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_source(path: str, max_bytes: int) -> str:
    """The text of the regular file `path`; OSError when it cannot be opened,
    `RefusedSource` when it is not a regular text file of at most `max_bytes`."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):  # before opening: opening a device may act
        raise RefusedSource("not a regular file")
    known = _remembered.get(path)
    if known is not None and known[0] == _signature(info):
        if info.st_size > max_bytes:  # remembered under a larger limit
            raise RefusedSource(exceeded(f"size {info.st_size:,}", "file_bytes", max_bytes))
        return known[1]
    text, before = _read_regular(path, max_bytes)
    _remember(path, text, before)
    return text


def _signature(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _remember(path: str, text: str, before: os.stat_result) -> None:
    """Keep `text` as `path`'s, if the file stood still long enough before this read and
    did not change while it was read (`before`: its stat as it was opened)."""
    global _remembered_chars
    try:
        info = os.stat(path)
    except OSError:
        return
    signature = _signature(info)
    if signature != _signature(before):
        return
    if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < _SETTLED_NS:
        return
    old = _remembered.pop(path, None)
    if old is not None:
        _remembered_chars -= len(old[1])
    _remembered[path] = (signature, text)
    _remembered_chars += len(text)
    while _remembered_chars > _REMEMBERED_CHARS and _remembered:
        oldest = next(iter(_remembered))
        _remembered_chars -= len(_remembered.pop(oldest)[1])


def _read_regular(path: str, max_bytes: int) -> tuple[str, os.stat_result]:
    """The text of `path` and its stat as opened (see `read_source`)."""
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
    return data.decode("utf-8", errors="replace"), info


def is_idl_text_name(path: str) -> bool:
    """Whether messages may quote this file's lines: it is named like IDL or a header."""
    return os.path.splitext(path)[1].lower() in IDL_TEXT_SUFFIXES
