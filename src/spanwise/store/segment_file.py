"""The ingest log's file format: a segment is a sequence of checksummed frames.

Each frame is one appended batch: a 16-byte header (`SWFR`, payload length, CRC-32 of the
payload, rows) and the batch as an Arrow IPC stream (schema included, so a segment written
by an older build is still readable and can be conformed to today's columns). Reading
tolerates exactly one kind of damage, a torn last frame (a crash mid-append: that batch
was never acknowledged); a bad frame anywhere else makes the segment `CorruptSegment`, so
it is quarantined whole rather than half replayed. Segments of the first format (a bare
Arrow IPC stream, `.arrows`) are still read, without checksums.
"""

from __future__ import annotations

import glob
import os
import struct
import zlib

import pyarrow as pa

from spanwise.core.spans import SPAN_SCHEMA
from spanwise.store.clickhouse.projects import LOGGED_SPAN_SCHEMA, older_batch

PREFIX = "segment-"
SUFFIX = ".swlog"
_LEGACY_SUFFIX = ".arrows"
_FRAME = struct.Struct("<4sIII")
_MAGIC = b"SWFR"


class CorruptSegment(Exception):
    """A segment that cannot be replayed as written (damaged, or of an unreadable schema)."""


class Writer:
    """Appends frames to a new segment file; with `fsync`, each append (and the file's
    directory entry) is on disk before `append` returns."""

    def __init__(self, path: str, fsync: bool = False) -> None:
        self._file = open(path, "xb", buffering=0)
        self._fsync = fsync
        if fsync:
            sync_directory(os.path.dirname(path))

    def append(self, table: pa.Table) -> int:
        """Write one frame; returns the bytes written."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        payload = sink.getvalue()
        header = _FRAME.pack(_MAGIC, payload.size, zlib.crc32(payload), table.num_rows)
        self._file.write(header)
        self._file.write(memoryview(payload))
        if self._fsync:
            os.fsync(self._file.fileno())
        return len(header) + payload.size

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # its complete frames are on disk; a torn tail is skipped on replay


def list_segments(directory: str) -> list[str]:
    """Segment files in `directory`, oldest first (names start with their creation time)."""
    found = glob.glob(os.path.join(directory, PREFIX + "*" + SUFFIX))
    found += glob.glob(os.path.join(directory, PREFIX + "*" + _LEGACY_SUFFIX))
    return sorted(found, key=os.path.basename)


def read(path: str) -> pa.Table:
    """Every complete batch of a segment, conformed to today's span columns."""
    if path.endswith(_LEGACY_SUFFIX):
        return _conform(_read_legacy(path))
    with open(path, "rb") as source:
        data = source.read()
    tables, offset = [], 0
    while offset < len(data):
        frame = _frame_at(data, offset)
        if frame is None:
            break  # the torn tail of a crash mid-append
        tables.append(_conform(frame[0]))
        offset = frame[1]
    return pa.concat_tables(tables) if tables else LOGGED_SPAN_SCHEMA.empty_table()


def count_rows(path: str) -> int:
    """Rows a replay of the segment stores (checks every frame: `CorruptSegment`)."""
    return read(path).num_rows


def _frame_at(data: bytes, offset: int) -> tuple[pa.Table, int] | None:
    """The frame at `offset` and where the next one starts; None for a torn last frame."""
    end_of_header = offset + _FRAME.size
    if end_of_header > len(data):
        return None
    magic, length, crc, rows = _FRAME.unpack_from(data, offset)
    end = end_of_header + length
    last = end >= len(data)
    if magic != _MAGIC:
        raise CorruptSegment(f"bad frame header at byte {offset}")
    payload = data[end_of_header:end]
    if end > len(data) or zlib.crc32(payload) != crc:
        if last:
            return None
        raise CorruptSegment(f"checksum mismatch in the frame at byte {offset}")
    try:
        table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
    except pa.ArrowException as exc:
        raise CorruptSegment(f"unreadable frame at byte {offset}: {exc}") from exc
    if table.num_rows != rows:
        raise CorruptSegment(f"the frame at byte {offset} holds {table.num_rows} rows, its header says {rows}")
    return table, end


def _read_legacy(path: str) -> pa.Table:
    """A first-format segment: its whole record batches (a torn last one is skipped)."""
    batches = []
    try:
        with pa.OSFile(path, "rb") as source:
            for batch in pa.ipc.open_stream(source):
                batches.append(batch)
    except (pa.ArrowInvalid, OSError):
        pass
    if not batches:
        return SPAN_SCHEMA.empty_table()
    return pa.Table.from_batches(batches)


def _conform(table: pa.Table) -> pa.Table:
    """Today's span columns from a batch written by this or an older build: columns it
    lacks are null (stored as the column's default), columns no longer known are left out."""
    table = older_batch(table)
    if table.schema.equals(LOGGED_SPAN_SCHEMA):
        return table
    try:
        columns = [
            table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in LOGGED_SPAN_SCHEMA
        ]
    except (pa.ArrowException, ValueError) as exc:
        raise CorruptSegment(f"a batch of an older schema cannot be converted: {exc}") from exc
    return pa.Table.from_arrays(columns, schema=LOGGED_SPAN_SCHEMA)


def sync_directory(path: str) -> None:
    """fsync a directory, so files created or renamed in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
