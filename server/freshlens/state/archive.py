"""Kept runs: every ingested run's artifacts, gzip-compressed, beside the state store.

The state store is a summary: it keeps the newest build of each node, not every run. So that a damaged
or deleted store can be rebuilt exactly, each ``ingest`` also keeps the artifacts it read, and each
``clear`` keeps a marker, in a folder next to the store file::

    state.db.runs/
      20260101T120000Z-3f6c…/            one ingest: <generated_at>-<invocation_id> of its run
        manifest.json.gz  run_results.json.gz  sources.json.gz  catalog.json.gz
        entry.json                        {"kind": "ingest", "seq": 7, "at": …, "origin": …, "files": {…}}
      20260102T080000Z-clear/entry.json   {"kind": "clear", "seq": 8, "at": …}

``seq`` is the order the store applied them in; a rebuild replays them in that order (with their original
times), so the result is the store as it was. ``files`` holds each artifact's SHA-256 (of the
uncompressed bytes), so a damaged copy is found before it is replayed.

An entry is written to a hidden temporary folder, flushed to disk, then renamed into place: it is there
whole or not at all. The store writes it inside its transaction, before the commit, so every committed
ingest has its kept run; an entry left by a process killed between the rename and the commit has a
``seq`` above the store's newest and is removed the next time the store is opened.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from freshlens.state.artifacts import StateError

ENTRY_FILE = "entry.json"
ENTRY_VERSION = 1
_TMP_PREFIX = ".tmp-"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ArchiveError(StateError):
    """A kept run cannot be read (missing, truncated or altered)."""


@dataclass(frozen=True, slots=True)
class KeptEntry:
    """One kept ingest (``kind == "ingest"``) or clear marker (``kind == "clear"``)."""

    name: str
    kind: str
    seq: int
    at: str  # when the store applied it (fixed-width UTC text, as the store writes times)
    origin: str | None = None  # the folder or origin the run was ingested from
    files: dict[str, str] = field(default_factory=dict)  # artifact name -> SHA-256 of its bytes


def runs_dir_for(store_path: str | Path) -> Path:
    """``state.db`` -> ``state.db.runs``."""
    return Path(f"{store_path}.runs")


def _fsync_dir(path: Path) -> None:
    # Makes a rename durable on POSIX; directories cannot be opened this way on Windows.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class RunArchive:
    """The kept runs of one store, in ``root`` (created on the first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # ------------------------------------------------------------------------------------ reading

    def scan(self) -> tuple[list[KeptEntry], list[str]]:
        """Every readable entry, by ``seq``; and a problem line for each folder that is not one."""
        entries: list[KeptEntry] = []
        problems: list[str] = []
        if not self.root.is_dir():
            return entries, problems
        for child in sorted(self.root.iterdir()):
            if child.name.startswith(".") or not child.is_dir():
                continue
            try:
                entries.append(self._read_entry(child))
            except ArchiveError as exc:
                problems.append(str(exc))
        entries.sort(key=lambda e: e.seq)
        return entries, problems

    def _read_entry(self, folder: Path) -> KeptEntry:
        try:
            data: Any = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
            kind = str(data["kind"])
            files = {str(k): str(v) for k, v in dict(data.get("files") or {}).items()}
            origin = data.get("origin")
            return KeptEntry(
                folder.name,
                kind,
                int(data["seq"]),
                str(data["at"]),
                None if origin is None else str(origin),
                files,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(
                f"{folder}: not a readable kept run ({type(exc).__name__}: {exc}); move it out of "
                f"{self.root} if it is not one"
            ) from None

    def extract(self, entry: KeptEntry, dest: Path) -> None:
        """Decompress an ingest entry's artifacts into ``dest``, checking each against its SHA-256."""
        for name, digest in sorted(entry.files.items()):
            data = self._read_file(entry, name, digest)
            (dest / name).write_bytes(data)

    def check(self, entry: KeptEntry) -> list[str]:
        """Problems with one entry's files (empty when every file decompresses to its recorded bytes)."""
        problems = []
        for name, digest in sorted(entry.files.items()):
            try:
                self._read_file(entry, name, digest)
            except ArchiveError as exc:
                problems.append(str(exc))
        return problems

    def _read_file(self, entry: KeptEntry, name: str, digest: str) -> bytes:
        path = self.root / entry.name / f"{name}.gz"
        try:
            data = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ArchiveError(f"{path}: kept artifact unreadable ({exc})") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArchiveError(f"{path}: kept artifact does not match the SHA-256 recorded when it was kept")
        return data

    # ------------------------------------------------------------------------------------ writing

    def keep_run(
        self,
        directory: Path,
        names: list[str],
        *,
        seq: int,
        at: str,
        origin: str,
        generated_at: datetime,
        invocation_id: str,
    ) -> KeptEntry:
        """Keep the artifacts ``names`` of ``directory`` as one entry, atomically."""
        files: dict[str, bytes] = {name: (directory / name).read_bytes() for name in names}
        label = f"{generated_at.strftime('%Y%m%dT%H%M%SZ')}-{_SAFE.sub('_', invocation_id)[:64]}"
        entry = KeptEntry(
            self._free_name(label),
            "ingest",
            seq,
            at,
            origin,
            {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        )
        # mtime=0: the same artifacts compress to the same bytes.
        blobs = {f"{name}.gz": gzip.compress(data, compresslevel=6, mtime=0) for name, data in files.items()}
        self._write(entry, blobs)
        return entry

    def keep_clear(self, *, seq: int, at: str) -> KeptEntry:
        """Keep the marker of a ``clear`` (its time decides which later-ingested runs count)."""
        stamp = re.sub(r"[^0-9]", "", at[:19])
        entry = KeptEntry(self._free_name(f"{stamp[:8]}T{stamp[8:]}Z-clear"), "clear", seq, at)
        self._write(entry, {})
        return entry

    def _free_name(self, label: str) -> str:
        name, n = label, 1
        while (self.root / name).exists():
            n += 1
            name = f"{label}-{n}"
        return name

    def _write(self, entry: KeptEntry, blobs: dict[str, bytes]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{_TMP_PREFIX}{entry.name}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for fname, blob in blobs.items():
            _write_durably(tmp / fname, blob)
        meta: dict[str, Any] = {
            "version": ENTRY_VERSION,
            "kind": entry.kind,
            "seq": entry.seq,
            "at": entry.at,
            "origin": entry.origin,
            "files": entry.files,
        }
        _write_durably(tmp / ENTRY_FILE, json.dumps(meta, indent=1, sort_keys=True).encode())
        _fsync_dir(tmp)
        os.replace(tmp, self.root / entry.name)
        _fsync_dir(self.root)

    def remove(self, name: str) -> None:
        shutil.rmtree(self.root / name, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """Temporary folders of writes that never finished (their process died before the rename)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name.startswith(_TMP_PREFIX))
