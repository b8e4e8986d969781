"""Reading rows: planning a file into chunks, and streaming one chunk's rows.

Both read lines the same way (split at `\\n` only, parsed by the csv module from a fresh state at a
row boundary), so a chunk read on its own yields exactly the rows the planner counted for it, even
for quoted fields with embedded newlines and for lines the csv module cannot read.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from contacts.csvsafe import restore_formula

BLOCK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    start_byte: int
    end_byte: int
    first_line: int
    rows: int


@dataclass(frozen=True, slots=True)
class Plan:
    chunks: list[PlannedChunk]
    rows: int
    """Non-blank rows in the file, the header row included."""


def plan_chunks(path: str, *, delimiter: str, chunk_rows: int) -> Plan:
    """Cut the UTF-8 file at `path` into chunks of about `chunk_rows` rows, at row boundaries."""
    boundaries: list[int] = []  # line numbers after which a chunk ends
    counts: list[int] = []
    total = 0
    in_chunk = 0
    with open(path, encoding="utf-8", newline="\n") as text:
        reader = csv.reader(text, delimiter=delimiter)
        while True:
            try:
                for row in reader:
                    if row and "".join(row).strip():
                        in_chunk += 1
                        if in_chunk == chunk_rows:
                            boundaries.append(reader.line_num)
                            counts.append(in_chunk)
                            total += in_chunk
                            in_chunk = 0
                break
            except csv.Error:
                # An unreadable row is still a row: the chunk reader reports it with its line.
                in_chunk += 1
                if in_chunk == chunk_rows:
                    boundaries.append(reader.line_num)
                    counts.append(in_chunk)
                    total += in_chunk
                    in_chunk = 0
        lines = reader.line_num
    total += in_chunk
    size = _file_size(path)
    if in_chunk:
        boundaries.append(lines)
        counts.append(in_chunk)
    offsets = _line_end_offsets(path, boundaries)
    if offsets:
        offsets[-1] = size  # trailing blank lines belong to the last chunk
    chunks = []
    start, first_line = 0, 1
    for end, line, rows in zip(offsets, boundaries, counts, strict=True):
        chunks.append(PlannedChunk(start_byte=start, end_byte=end, first_line=first_line, rows=rows))
        start, first_line = end, line + 1
    return Plan(chunks=chunks, rows=total)


def _file_size(path: str) -> int:
    with open(path, "rb") as handle:
        return handle.seek(0, io.SEEK_END)


def _line_end_offsets(path: str, line_numbers: list[int]) -> list[int]:
    """The byte offset just after line N (1-based) for each N in the ascending `line_numbers`."""
    offsets: list[int] = []
    pending = iter(line_numbers)
    target = next(pending, None)
    lines_before = 0  # lines that end before the current block
    block_start = 0
    with open(path, "rb") as handle:
        while target is not None:
            block = handle.read(BLOCK_BYTES)
            if not block:
                offsets.extend([block_start] * (1 + sum(1 for _ in pending)))
                break
            newlines = block.count(b"\n")
            position, seen = -1, 0
            while target is not None and lines_before + newlines >= target:
                while lines_before + seen < target:
                    position = block.index(b"\n", position + 1)
                    seen += 1
                offsets.append(block_start + position + 1)
                target = next(pending, None)
            lines_before += newlines
            block_start += len(block)
    return offsets


def read_chunk(handle, *, start_byte: int, end_byte: int, first_line: int, delimiter: str) -> Iterator[tuple]:
    """Yield `(line, cells, None)` per row of a chunk, or `(line, None, reason)` for a row the csv
    module cannot read. `line` is the 1-based line where the row starts; blank rows are skipped.
    Cells quoted against formulas (an export, an error report) are read as the text they were."""
    handle.seek(start_byte)
    text = handle.read(end_byte - start_byte).decode("utf-8")
    quoted = "'" in text  # most files have no quoted cell: skip the per-cell check for them
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter)
    line_base = first_line - 1
    previous = 0
    while True:
        try:
            for row in reader:
                line = line_base + previous + 1
                previous = reader.line_num
                if row and "".join(row).strip():
                    yield line, [restore_formula(cell) for cell in row] if quoted else row, None
            return
        except csv.Error as exc:
            line = line_base + previous + 1
            previous = reader.line_num
            yield line, None, _csv_reason(str(exc))


def _csv_reason(message: str) -> str:
    if "field larger than field limit" in message:
        return (
            f"a field is longer than {csv.field_size_limit():,} characters "
            "(a quoted field that is never closed?)"
        )
    return f"the line is not valid CSV ({message})"
