"""Claims on planned runs, so several ``reproduce`` processes can share one plan and one store.

On a 2-core machine two 1-thread runs side by side beat one 2-thread run, so a programme is
best carried out by two processes over the same plan. Before a process starts a planned run it
creates ``<store>/.claims/<key>.json`` with ``O_EXCL`` (atomic on a local file system); a run
another live process has claimed is skipped, and the claim is removed when the run ends,
whether it was recorded or failed. A claim whose process is gone (killed, machine restarted)
is stale and is taken over, so a killed programme resumes where it stopped.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> first, second = RunClaims(root), RunClaims(root)
    >>> first.acquire("tallrec-s0"), second.acquire("tallrec-s0")
    (True, False)
    >>> first.release("tallrec-s0"); second.acquire("tallrec-s0")
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path


class RunClaims:
    """Exclusive, crash-tolerant claims on run keys inside one store folder."""

    def __init__(self, store_root: Path) -> None:
        self.folder = Path(store_root) / ".claims"

    def _path(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"

    def acquire(self, key: str) -> bool:
        """Claim ``key`` for this process; False when another live process holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        for _ in range(2):  # a second try after removing a stale claim
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale(path):
                    return False
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as out:
                json.dump({"key": key, "pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}, out)
            return True
        return False

    def release(self, key: str) -> None:
        """Drop this process's claim on ``key`` (a claim held by another process is left alone)."""
        path = self._path(key)
        holder = _read(path)
        if holder is not None and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            path.unlink(missing_ok=True)

    @staticmethod
    def _stale(path: Path) -> bool:
        holder = _read(path)
        if holder is None:  # empty or unreadable: being written right now, or its writer died doing so
            try:
                return time.time() - path.stat().st_mtime > 60
            except OSError:
                return True
        if holder.get("host") != socket.gethostname():
            return False  # another machine's process: it cannot be checked from here
        return not _alive(int(holder.get("pid", -1)))


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
