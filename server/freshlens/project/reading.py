"""Read a project file without ever blocking or raising something the caller does not expect.

Every read of a user's file goes through ``read_bytes``: it refuses what is not a regular file (a
FIFO would block ``open()`` forever, a device can stream without end), files over the size limit,
symbolic-link loops and files that vanished after the folder was listed, each with a message that
says what the file is and why it was not read. ``NotRead`` is an ``OSError``, so callers that
already treat "cannot open" as "absent" keep doing so.
"""

from __future__ import annotations

import errno
import os
import stat

from freshlens.model import Loc, ParseProblem, Severity, Span
from freshlens.project.limits import MAX_FILE_BYTES

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO), not a regular file: reading it would wait for a writer forever"),
    (stat.S_ISCHR, "a character device, not a regular file"),
    (stat.S_ISBLK, "a block device, not a regular file"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
    (stat.S_ISDIR, "a folder, not a file"),
)


class NotRead(OSError):
    """A file that was not read. ``code`` is FL008 (cannot be read: a real error) or FL011 (skipped)."""

    def __init__(self, code: str, why: str, err: int = errno.EIO) -> None:
        super().__init__(err, why)
        self.code = code
        self.why = why

    def problem(self, path: str) -> ParseProblem:
        if self.code == "FL008":
            return ParseProblem("FL008", f"cannot read this file: {self.why}", Loc(path, Span(0, 0, 0, 0)))
        return ParseProblem(
            "FL011",
            f"freshlens did not analyse this file: it is {self.why}. Its configs, refs and sources are "
            "not checked.",
            Loc(path, Span(0, 0, 0, 0)),
            Severity.WARNING,
        )


def _not_regular(mode: int) -> str | None:
    for test, what in _KINDS:
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def _refused(exc: OSError) -> NotRead:
    if isinstance(exc, NotRead):
        return exc
    if exc.errno == errno.ENOENT:
        return NotRead(
            "FL011",
            "gone: it was deleted or renamed after the folder was listed (it is read again when it comes back)",
            errno.ENOENT,
        )
    if exc.errno == errno.ELOOP:
        return NotRead(
            "FL011",
            "a symbolic link that loops back on itself (or a chain of more than 40 links)",
            errno.ELOOP,
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return NotRead("FL008", f"{exc.strerror}; check its permissions", exc.errno)
    return NotRead("FL008", f"{exc.strerror or exc}", exc.errno or errno.EIO)


def read_bytes(path: str, max_bytes: int | None = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (None: no limit). Raises ``NotRead``."""
    try:
        st = os.stat(path)
        what = _not_regular(st.st_mode)
        if what:
            raise NotRead("FL011", what)
        if max_bytes is not None and st.st_size > max_bytes:
            raise NotRead("FL011", _too_big(st.st_size, max_bytes))
        # O_NONBLOCK: a FIFO put in the file's place after the stat above does not block the open
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _refused(exc) from None
    try:
        st = os.fstat(fd)
        what = _not_regular(st.st_mode)
        if what:
            raise NotRead("FL011", what)
        # One read of the size fstat gave, plus a byte: a short read is the end of a regular file,
        # so the usual file costs one read call, not two (11,000 files in a large project).
        want = st.st_size + 1
        chunks: list[bytes] = []
        got = 0
        while True:
            chunk = os.read(fd, max(want, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if max_bytes is not None and got > max_bytes:  # it grew while we read it
                raise NotRead("FL011", _too_big(got, max_bytes))
            if len(chunk) < want:
                break
            want = 1 << 20
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as exc:
        raise _refused(exc) from None
    finally:
        os.close(fd)


def read_text(path: str, max_bytes: int | None = MAX_FILE_BYTES) -> str:
    """A regular file's text as UTF-8 (BOM dropped). Raises ``NotRead`` or ``UnicodeDecodeError``."""
    data = read_bytes(path, max_bytes)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


def read_project_file(path: str) -> tuple[str, ParseProblem | None]:
    """A project file's text as dbt reads it (UTF-8, BOM tolerated), or "" and why it was not read.

    A file that is not valid UTF-8 is decoded with replacement characters and reported (FL008), so
    the rest of it is still analysed; binary data and UTF-16 are reported and not analysed.
    """
    try:
        data = read_bytes(path)
    except NotRead as exc:
        return "", exc.problem(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", ParseProblem(
            "FL008",
            "this file is UTF-16 encoded; dbt reads files as UTF-8 — re-save it as UTF-8",
            Loc(path, Span(0, 0, 0, 0)),
        )
    nul = data.find(b"\x00")
    if nul != -1:
        return "", NotRead("FL011", f"binary data, not text (a NUL byte at offset {nul})").problem(path)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        return text, ParseProblem(
            "FL008",
            f"this file is not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); "
            "dbt reads files as UTF-8 — re-save it as UTF-8",
            Loc(path, Span(0, 0, 0, 1)),
        )


def _too_big(size: int, limit: int) -> str:
    return (
        f"{size / 1024 / 1024:.1f} MB; freshlens analyses files up to {limit // 1024 // 1024} MB "
        "(a larger file is generated data, not hand-written config). Split it if it holds dbt configs"
    )
