"""A non-blocking lock on the mirror, held for a whole run; released by the kernel on death."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from mirrorsync.core.lock import held_message, holder_record, parse_holder
from mirrorsync.errors import LockHeld, TargetError


def _holder(path: Path) -> dict[str, object]:
    try:
        return parse_holder(path.read_bytes())
    except OSError:
        return {}


@contextlib.contextmanager
def hold_lock(path: Path, *, now: datetime | None = None) -> Iterator[None]:
    """Hold ``path`` exclusively for the block; raise ``LockHeld`` at once if another run has it.

    ``flock`` locks die with their process, so a run killed with ``kill -9`` never leaves a
    lock that blocks the next one.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise TargetError.from_os_error(f"{path}: cannot open the lock", e) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(
                held_message(_holder(path)),
                hint=f"lock file {path}",
            ) from None
        info = holder_record(
            pid=os.getpid(), host=socket.gethostname(), started=now or datetime.now(UTC)
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8") + b"\n", 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
