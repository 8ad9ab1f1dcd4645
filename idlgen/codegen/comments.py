"""The comment written just above a declaration in the IDL source, for docstrings.

The preprocessor turns comments into blanks (keeping lines and columns), so the text is
read again from the file a declaration came from: the declaration's line, the attribute
list in brackets above it if any, then the comment block that ends on the line above
that. A blank line in between means the comment belongs to something else.
"""

from __future__ import annotations

import functools
import re

from idlgen import model
from idlgen.frontend.sources import RefusedSource, read_source
from idlgen.limits import Limits

__all__ = ["comment_above"]

_LINE_COMMENT = re.compile(r"^\s*//+ ?(.*)$")


@functools.lru_cache(maxsize=64)
def _lines(path: str) -> tuple[str, ...]:
    """The file's lines, read by the front end's own guarded reader (regular text files
    within the size limit only); nothing for a source given as text, a name with a NUL,
    or anything the front end would refuse."""
    try:
        return tuple(read_source(path, Limits().file_bytes).splitlines())
    except (OSError, ValueError, RefusedSource):
        return ()


def comment_above(origin: model.Origin | None) -> str | None:
    """The text of the comment right above the declaration at `origin`, or None."""
    if origin is None:
        return None
    lines = _lines(origin.file)
    index = _attributes_start(lines, origin.line - 1) - 1
    if not 0 <= index < len(lines):
        return None
    text = lines[index].strip()
    if text.startswith("//"):
        return _line_comments(lines, index)
    if text.endswith("*/"):
        return _block_comment(lines, index)
    return None


def _attributes_start(lines: tuple[str, ...], index: int) -> int:
    """The first line of the declaration at `index`: above it, an attribute list that
    closes on its own line (`]`) belongs to the declaration."""
    above = index - 1
    if above < 0 or above >= len(lines) or not lines[above].rstrip().endswith("]"):
        return index
    depth = 0
    for line_index in range(above, -1, -1):
        depth += lines[line_index].count("]") - lines[line_index].count("[")
        if depth <= 0:
            return line_index
    return index


def _line_comments(lines: tuple[str, ...], index: int) -> str:
    texts: list[str] = []
    while index >= 0 and (match := _LINE_COMMENT.match(lines[index])):
        texts.append(match.group(1))
        index -= 1
    return " ".join(reversed(texts)).strip()


def _block_comment(lines: tuple[str, ...], index: int) -> str | None:
    end = index
    while index >= 0 and "/*" not in lines[index]:
        index -= 1
    if index < 0 or lines[index].split("/*", 1)[0].strip():
        return None  # the comment starts after code: it is that code's comment
    body = "\n".join(lines[index : end + 1]).strip()
    body = body.removeprefix("/*").removesuffix("*/")
    cleaned = [line.strip().lstrip("*").strip() for line in body.splitlines()]
    return " ".join(part for part in cleaned if part) or None
