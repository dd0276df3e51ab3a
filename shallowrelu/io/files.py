"""Safe file primitives: reading untrusted ``.npz`` files, writing atomically, append-only logs.

Owns the rules every file of the project follows: nothing is unpickled;
nothing is half-written (a temporary name, renamed when complete); the same
arrays give the same bytes; a log survives a crash but for its last record.
Knows no file format of its own: networks, catalogues and shallow networks
are written through these.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterator

import numpy as np


def read_npz(path: str | os.PathLike, error: type[Exception], what: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, refusing pickled objects.

    Raises
    ------
    error
        With the file name and the reason, if the file is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such {what} file")
    # Opened here so that the handle is closed even when numpy fails on a bad zip.
    with open(path, "rb") as f:
        return _npz_arrays(f, path, error, what)


def npz_arrays(data: bytes, label: str, error: type[Exception], what: str,
               keep: Callable[[str], bool] | None = None) -> dict[str, np.ndarray]:
    """Like :func:`read_npz`, for ``.npz`` bytes held in memory (``label`` names them in errors); with
    ``keep``, only the arrays whose names it accepts are read."""
    return _npz_arrays(io.BytesIO(data), label, error, what, keep)


def is_npz(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` is an ``.npz`` by its content, whatever its name: a zip of ``.npy`` arrays.

    Reads only the zip's directory. A ``.pt2`` (a zip of other members), a
    missing or unreadable file is no ``.npz``.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return bool(names) and all(name.endswith(".npy") for name in names)


def _npz_arrays(f, label, error: type[Exception], what: str,
                keep: Callable[[str], bool] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an open ``.npz`` file (those ``keep`` accepts), refusing anything but plain numeric arrays."""
    head = f.read(4)
    f.seek(0)
    path = label
    if head != b"PK\x03\x04":
        raise error(f"{path}: not a .npz {what} file (no zip header{'; the file is empty' if not head else ''})")
    try:
        with np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files if keep is None or keep(k)}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise error(f"{path}: holds pickled Python objects, which are refused") from None
        raise error(f"{path}: not a readable .npz {what} file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{path}: not a readable .npz {what} file ({exc})") from None


def _umask() -> int:
    """The process's file-creation mask (read by setting it and back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """A temporary path beside ``path``, renamed to it when the block ends without an error.

    On an error (or Ctrl-C) the temporary file is removed and ``path`` is
    left as it was: nothing is ever half-written.

    Raises
    ------
    OSError
        If the directory does not exist or is not writable.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; a written file is an ordinary one
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_savez(path: str | os.PathLike, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` as a compressed ``.npz``, atomically and byte-reproducibly.

    Zip entries carry a fixed timestamp, so the same arrays always give the
    same bytes (``np.savez`` stamps the current time).
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        _write_npz(f, arrays)


def npz_bytes(arrays: dict, compress: bool = True) -> bytes:
    """``arrays`` as the bytes of a reproducible ``.npz`` (see :func:`atomic_savez`), deflated or stored."""
    buf = io.BytesIO()
    _write_npz(buf, arrays, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
    return buf.getvalue()


def _write_npz(f, arrays: dict, method: int = zipfile.ZIP_DEFLATED) -> None:
    """Write ``arrays`` as an ``.npz`` file with fixed timestamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(f, "w", method) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arrays[name]), allow_pickle=False)


# A record log: an append-only file of records, each the magic, the payload
# length (8 bytes, little-endian), the payload and its CRC-32. A crash while
# appending leaves at most one incomplete record at the end, which readers skip.
_RECORD_MAGIC = b"SRLOG1\n\0"
_RECORD_HEAD = len(_RECORD_MAGIC) + 8  # the magic and the payload's length; its CRC-32 follows the payload


# What the last full read of a log found, its record count and their extent,
# by the file's identity, size and modification time: a resume reads a log of
# tens of gigabytes once, not again to count it and to cut a torn record.
_EXTENTS: dict[tuple[int, int, int, int], tuple[int, int]] = {}


def _identity(f) -> tuple[int, int, int, int]:
    """The open file's device, inode, size and modification time (any append or cut changes it)."""
    st = os.fstat(f.fileno())
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def append_record(path: str | os.PathLike, payload: bytes) -> None:
    """Append one record to the log at ``path`` and force it to disk."""
    with open(path, "ab") as f:
        before = _identity(f)
        known = _EXTENTS.pop(before, None)
        f.write(_RECORD_MAGIC + len(payload).to_bytes(8, "little") + payload
                + zlib.crc32(payload).to_bytes(4, "little"))
        f.flush()
        os.fsync(f.fileno())
        if known is not None and known[1] == before[2]:  # no torn record before this one
            _EXTENTS[_identity(f)] = (known[0] + 1, f.tell())


def cut_torn_record(path: str | os.PathLike) -> int:
    """Cut the log at ``path`` after its last complete record (a crash may have torn the one after);
    how many complete records it holds."""
    count, end = records_extent(path)
    os.truncate(path, end)
    with open(path, "rb") as f:
        _EXTENTS[_identity(f)] = (count, end)
    return count


def records_extent(path: str | os.PathLike) -> tuple[int, int]:
    """How many complete records the log at ``path`` holds, and the length of the file they fill.

    Reading stops at the first incomplete or damaged record (a crash while
    appending); the log is read a record at a time, or not at all where a
    full :func:`iter_records` pass over the unchanged file found it already.
    """
    with open(path, "rb") as f:
        known = _EXTENTS.get(_identity(f))
    if known is not None:
        return known
    count = end = 0
    for offset, payload in iter_records(path):
        count, end = count + 1, offset + _RECORD_HEAD + len(payload) + 4
    return count, end


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, bytes]]:
    """The complete records of the log at ``path`` one at a time, each with its offset in the file
    (for :func:`read_record_at`); a log larger than memory is read a record at a time. A pass to the end
    remembers the extent for :func:`records_extent`."""
    with open(path, "rb") as f:
        identity = _identity(f)
        offset = count = 0
        while True:
            payload = _record(f)
            if payload is None:
                if _identity(f) == identity:  # not appended to while it was read
                    _EXTENTS[identity] = (count, offset)
                return
            yield offset, payload
            count += 1
            offset += _RECORD_HEAD + len(payload) + 4


def read_record_at(path: str | os.PathLike, offset: int) -> bytes:
    """The record at ``offset`` of the log at ``path`` (an offset :func:`iter_records` gave)."""
    with open(path, "rb") as f:
        f.seek(offset)
        payload = _record(f)
    if payload is None:
        raise ValueError(f"{path}: no complete record at offset {offset}")
    return payload


def _record(f) -> bytes | None:
    """The record at the position of the open log ``f``; None at its end or at a damaged record."""
    head = f.read(_RECORD_HEAD)
    if len(head) < _RECORD_HEAD or head[:len(_RECORD_MAGIC)] != _RECORD_MAGIC:
        return None
    size = int.from_bytes(head[len(_RECORD_MAGIC):], "little")
    payload = f.read(size)
    crc = f.read(4)
    if len(payload) < size or zlib.crc32(payload).to_bytes(4, "little") != crc:
        return None
    return payload


def starts_as_record_log(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` is empty or begins as a record log does (a crash may cut it anywhere)."""
    with open(path, "rb") as f:
        head = f.read(len(_RECORD_MAGIC))
    return _RECORD_MAGIC.startswith(head)


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` as an ``.npy`` file, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
