"""A text file's bytes as DuckDB's readers can decode them.

DuckDB decodes UTF-8 and latin-1 itself, and reads ``.gz`` files decompressed. Any other
encoding Python knows is decoded by Python, streamed into a UTF-8 copy beside the warehouse's
spill files, which DuckDB then reads: DuckDB has no cp1252 (what Excel saves on Windows, with
``€`` and curly quotes in bytes 0x80-0x9F that latin-1 does not use), and its UTF-16 reader finds
no rows in a big-endian file and cannot sniff one with a field spanning lines. A UTF-16
byte-order mark says what the file is, whatever ``--encoding`` says (Excel's "Unicode text").
Decoding keeps every line where it was, so line numbers are the file's.
"""

from __future__ import annotations

import codecs
import gzip
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from patron.errors import InputError, option, spelled
from patron.sql import scalar

_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "latin-1"}
"""Encodings DuckDB's CSV reader decodes, by Python's codec name -> DuckDB's."""

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHUNK = 1 << 20


def resave() -> str:
    """What to do about a file that is not UTF-8."""
    latin1 = spelled("--encoding latin-1", "encoding='latin-1'")
    return f"re-save the file as UTF-8, or pass {latin1} (or utf-16) if that is what it is"


def not_latin1() -> str:
    """Said when DuckDB answers "File is not latin-1 encoded"."""
    return (
        "it has bytes 0x80-0x9F, which latin-1 does not use and Windows' cp1252 uses for € and "
        f"curly quotes: pass {spelled('--encoding cp1252', 'encoding=' + repr('cp1252'))}"
    )


@contextmanager
def open_bytes(path: Path) -> Iterator[io.BufferedIOBase]:
    """The file's bytes, decompressed when its name ends in ``.gz`` as DuckDB's readers do."""
    try:
        with gzip.open(path, "rb") if is_gzip(path) else path.open("rb") as handle:
            yield handle
    except (gzip.BadGzipFile, EOFError) as exc:
        raise InputError(f"cannot read as gzip: {exc}", file=str(path)) from exc


def is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


@contextmanager
def readable(
    con: duckdb.DuckDBPyConnection, path: Path, encoding: str
) -> Iterator[tuple[Path, str]]:
    """``(file, encoding)`` for DuckDB to read ``path`` with: the file itself when DuckDB
    decodes its encoding, else a UTF-8 copy that lasts as long as the context."""
    codec = _codec(path, encoding)
    if codec in _DUCKDB_ENCODINGS:
        yield path, _DUCKDB_ENCODINGS[codec]
        return
    with _spill_copy(con, "utf-8.csv") as copy:
        _transcode(path, codec, copy)
        yield copy, "utf-8"


@contextmanager
def one_line_end(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[Path]:
    """``path`` itself, or, where some lines end in a bare CR and others in LF or CR LF (a file
    pieced together on a classic Mac and elsewhere), a copy whose every line ends in LF, for as
    long as the context: on such a mix DuckDB's reader stops in "an invalid state", and read
    leniently it drops a field's first character. Every ending stays one line break, so the
    lines are numbered as an editor shows them."""
    if not _mixes_bare_cr(path):
        yield path
        return
    with _spill_copy(con, "lf.csv") as copy:
        _with_lf(path, copy)
        yield copy


def _with_lf(path: Path, copy: Path) -> None:
    """Stream ``path`` into ``copy`` with every CR LF and bare CR written as LF."""
    with open_bytes(path) as source, copy.open("wb") as target:
        held = b""  # a chunk's last CR, which may be half of a CR LF
        while chunk := source.read(_CHUNK):
            text = held + chunk
            held = b"\r" if text.endswith(b"\r") else b""
            text = text[: len(text) - len(held)]
            target.write(text.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        target.write(b"\n" if held else b"")


@contextmanager
def _spill_copy(con: duckdb.DuckDBPyConnection, name: str) -> Iterator[Path]:
    """A path ``name`` for a copy of a file in DuckDB's spill folder, where a big copy has the
    room spills have; it is deleted with the context."""
    with tempfile.TemporaryDirectory(dir=_spill_folder(con)) as folder:
        yield Path(folder) / name


def _mixes_bare_cr(path: Path) -> bool:
    """Whether the file has a CR that ends a line alone and also lines ended otherwise."""
    bare = newlines = 0
    held = False  # the last chunk ended in a CR, bare unless this chunk starts with LF
    with open_bytes(path) as handle:
        while chunk := handle.read(_CHUNK):
            bare += held and not chunk.startswith(b"\n")
            held = chunk.endswith(b"\r")
            bare += chunk.count(b"\r") - chunk.count(b"\r\n") - held
            newlines += chunk.count(b"\n")
            if bare > 0 and newlines > 0:
                return True
    return held and newlines > 0


def _codec(path: Path, encoding: str) -> str:
    """Python's name of the file's encoding: UTF-16 when it starts with that byte-order mark,
    else ``encoding``'s."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            f"unknown encoding {encoding!r}; pass utf-8, utf-16, latin-1 or cp1252", file=str(path)
        ) from None
    with open_bytes(path) as handle:
        return "utf-16" if handle.read(2) in _UTF16_BOMS else codec


def _spill_folder(con: duckdb.DuckDBPyConnection) -> str | None:
    """DuckDB's spill folder (made if need be), where a big copy has the room spills have."""
    folder = str(scalar(con, "SELECT current_setting('temp_directory')") or "")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return folder


def _transcode(path: Path, codec: str, copy: Path) -> None:
    """Stream ``path`` decoded from ``codec`` into ``copy`` as UTF-8; a byte the encoding does
    not define fails the load, naming its line."""
    decoder = codecs.getincrementaldecoder(codec)()
    lines = 1
    with open_bytes(path) as source, copy.open("w", encoding="utf-8", newline="") as target:
        while True:
            chunk = source.read(_CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                line = lines + _newlines_before(exc)
                raise InputError(
                    f"line {line} is not valid {codec}; re-save the file as UTF-8, or pass the "
                    f"{option('encoding')} it was saved in",
                    file=str(path),
                ) from None
            target.write(text)
            lines += text.count("\n")
            if not chunk:
                return


def _newlines_before(exc: UnicodeDecodeError) -> int:
    """Line breaks in the undecodable input before the bad byte (exact for the encodings that
    write a line break as one byte, as all but UTF-16 and UTF-32 do)."""
    data: Any = exc.object
    return bytes(data[: exc.start]).count(b"\n")


def check_header_encoding(path: Path, encoding: str) -> None:
    """A UTF-8 file's header must be UTF-8: DuckDB's reader skips a header line that is not
    and takes the first record for the header, which would blame the header's names."""
    if encoding != "utf-8":
        return
    with open_bytes(path) as handle:
        header = handle.readline(_CHUNK)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(header, final=False)
    except UnicodeDecodeError:
        where = "line 1, the header, is not valid UTF-8"
        raise InputError(f"{where}; {resave()}", file=str(path)) from None


def fail_on_encoding(rejects: list[dict[str, Any]], path: Path) -> None:
    """Lines DuckDB rejected as not UTF-8 fail the load: the file's encoding is another."""
    bad = [r for r in rejects if r["error_type"] == "INVALID ENCODING"]
    if bad:
        where = f"line {bad[0]['line']} is not valid UTF-8 ({len(bad)} such lines)"
        raise InputError(f"{where}; {resave()}", file=str(path))
