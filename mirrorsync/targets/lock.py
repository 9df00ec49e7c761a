"""A non-blocking lock on the mirror, held for a whole run; released by the kernel on death."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from mirrorsync.core.lock import held_message, holder_record, holder_text, parse_holder
from mirrorsync.errors import LockHeld, TargetError, describe_os_error

log = logging.getLogger(__name__)


def _holder(path: Path) -> dict[str, object]:
    try:
        return parse_holder(path.read_bytes())
    except OSError:
        return {}


def lock_holder(path: Path) -> str | None:
    """Who holds the lock at ``path`` now, or None when no run does; never writes.

    A shared, non-blocking ``flock`` on the file opened read-only: it fails only while a run
    holds the exclusive lock. A read-only tree (a mounted copy) has no run and no lock.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return holder_text(_holder(path))
        except OSError:
            return None  # a file system without locks: nothing can be told
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


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
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode("utf-8") + b"\n", 0)
        except OSError as e:
            # The lock is the flock, held; the text only tells others who holds it. A full disk
            # must not end the run here with a traceback: the run says what it cannot write.
            log.warning("%s: cannot note this run in the lock (%s)", path, describe_os_error(e))
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
