"""The main side of the hashing processes (``hashproc``): ``LocalTree.hash_files`` hands them
runs of files when there are many, so the per-file work of tens of thousands of small files runs
beside the main interpreter, not in its threads under its lock.

A process that cannot start, or dies, costs nothing but speed: its runs are hashed in the
caller's threads instead. Whatever happens (the last run delivered, an error, Ctrl-C), every
process is stopped and waited for once ``HashPool.stop`` returns: none outlives a verify, and a
measuring parent that waits for the main process counts their CPU time too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from mirrorsync.errors import describe_os_error
from mirrorsync.targets.base import Hashed, Unreadable

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("hashproc.py")
AHEAD = 8
AHEAD_BYTES = 64 << 20
"""A process is sent up to ``AHEAD`` runs (at most its share of them) before it has answered
the first, as long as they hold at most ``AHEAD_BYTES`` (two at least, whatever their size):
the small files of a whole history are then a few thousand files ahead, well within its
widened pipe, and it does not wait for this loop, which may wait an interpreter's switch
interval for its lock while a thread parses the index; large files are two runs ahead, so that
no process is left with a long tail of work at the end while the others idle."""

_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
"""What ``os.fsencode`` encodes a path with."""

Outcome = tuple[list[Hashed], int]
"""One run's outcomes, in order, and the bytes read that were not yet told to ``on_bytes``."""


class Lost(Exception):
    """A hashing process stopped answering as the protocol says: it ``ended`` its output (it
    died, or was killed), or said something else."""

    def __init__(self, message: str, *, ended: bool) -> None:
        super().__init__(message)
        self.ended = ended


class HashPool:
    """Up to ``processes`` hashing processes started in ``root``, hashing ``runs`` (index ranges
    of ``files``) in any order; ``outcome(i)`` is awaited in order by the caller."""

    def __init__(
        self,
        files: Sequence[tuple[str, int]],
        runs: Sequence[tuple[int, int]],
        *,
        root: str,
        on_bytes: Callable[[int], None],
        in_thread: Callable[[int, int], Awaitable[Outcome]],
    ) -> None:
        self.files = files
        self.runs = runs
        self.root = root
        self.on_bytes = on_bytes
        self.in_thread = in_thread
        loop = asyncio.get_running_loop()
        self.outcomes: list[asyncio.Future[Outcome]] = [loop.create_future() for _ in runs]
        self._next = 0
        self._ahead = AHEAD
        self._weights = [sum(size for _, size in files[lo:hi]) for lo, hi in runs]
        self._procs: list[asyncio.subprocess.Process] = []
        self._pumps: list[asyncio.Task[None]] = []

    async def start(self, processes: int) -> int:
        """Start the processes and their pumps; how many started (0: hash in threads)."""
        if not sys.executable or not SCRIPT.is_file():
            return 0
        # No process takes more than its share of the runs ahead: each has work from the start.
        self._ahead = max(1, min(AHEAD, -(-len(self.runs) // processes)))
        for _ in range(processes):
            try:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",  # no environment, no user site, no current directory on the path
                    "-S",  # no site-packages: it imports four standard modules
                    os.fspath(SCRIPT),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                    cwd=self.root,
                    process_group=0,  # a Ctrl-C at the terminal is the main process's to handle
                )
            except (OSError, ValueError) as e:
                log.debug("cannot start a hashing process (%s): hashing in threads", e)
                break
            self._procs.append(proc)
            self._pumps.append(asyncio.create_task(self._pump(proc), name="mirrorsync-hashproc"))
        return len(self._procs)

    async def stop(self, *, finished: bool) -> None:
        """Every pump ended and every process gone and waited for, also through a second
        Ctrl-C: once every run is ``finished`` they are idle and end at the end of their input
        (a kill could race their exit); else (an error, Ctrl-C) they are killed."""
        for pump in self._pumps:
            pump.cancel()
        for proc in self._procs:
            if proc.stdin is not None:
                proc.stdin.close()
            if not finished:
                _kill(proc)
        waits = [*self._pumps, *(asyncio.ensure_future(p.wait()) for p in self._procs)]
        while not all(w.done() for w in waits):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(waits)
        for w in waits:
            if not w.cancelled():
                w.exception()  # retrieved: a pump's failure reached the caller through its run

    def _room(self, sent: Sequence[int]) -> bool:
        """Whether a process that has ``sent`` runs to answer may be sent one more."""
        if len(sent) >= self._ahead:
            return False
        if len(sent) < 2:  # noqa: PLR2004 - one hashed while the next is on its way
            return True
        return sum(self._weights[i] for i in sent) < AHEAD_BYTES

    def _take(self) -> int | None:
        i = self._next
        if i >= len(self.runs):
            return None
        self._next += 1
        return i

    async def _pump(self, proc: asyncio.subprocess.Process) -> None:
        """Feed one process runs, a few ahead, and resolve their outcomes; once it is
        lost, hash the runs it had and any left in threads."""
        sent: list[int] = []
        alive = True
        while True:
            while alive and self._room(sent) and (i := self._take()) is not None:
                assert proc.stdin is not None  # noqa: S101 - started with PIPE
                proc.stdin.write(self._request(i))
                sent.append(i)
            if sent:
                i = sent.pop(0)
            elif (taken := self._take()) is not None:
                i = taken
            else:
                return
            outcome = await self._answer(proc, i) if alive else None
            alive = outcome is not None
            waiting = self.outcomes[i]  # cancelled with the caller, if it was awaiting it
            try:
                if outcome is None:
                    outcome = await self.in_thread(*self.runs[i])
            except Exception as e:  # noqa: BLE001 - raised where the caller awaits this run
                if not waiting.done():
                    waiting.set_exception(e)
                return
            if not waiting.done():
                waiting.set_result(outcome)

    async def _answer(self, proc: asyncio.subprocess.Process, i: int) -> Outcome | None:
        """The process's outcome of run ``i``; None once it is lost (then killed, unless it
        ended its output: it is exiting)."""
        try:
            return await self._receive(proc, i)
        except (Lost, OSError, ValueError, asyncio.IncompleteReadError) as e:
            log.warning("a hashing process stopped (%s): hashing in threads", e)
            ended = isinstance(e, asyncio.IncompleteReadError) or (isinstance(e, Lost) and e.ended)
            if not ended:
                _kill(proc)  # it talks nonsense: it may not end with its input
            return None

    def _request(self, i: int) -> bytes:
        lo, hi = self.runs[i]
        paths = "\0".join(path for path, _ in self.files[lo:hi])  # one encode, not one a path
        return paths.encode(_FS_ENCODING, _FS_ERRORS) + b"\n"

    async def _receive(self, proc: asyncio.subprocess.Process, i: int) -> Outcome:
        assert proc.stdout is not None  # noqa: S101 - started with PIPE
        lo, hi = self.runs[i]
        while (line := await proc.stdout.readline()).startswith(b"+"):
            self.on_bytes(int(line[1:]))
        if not line.startswith(b"="):
            raise Lost(f"said {line[:40]!r}" if line else "its output ended", ended=not line)
        length, unreported = (int(n) for n in line[1:].split())
        records = (await proc.stdout.readexactly(length)).split(b"\n")
        if len(records) != hi - lo + 1 or records[-1]:
            raise Lost(f"{len(records) - 1} outcomes for {hi - lo} files", ended=False)
        files = self.files[lo:hi]
        return [_outcome(path, rec) for (path, _), rec in zip(files, records, strict=False)], (
            unreported
        )


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL, unless it is known to have exited."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def _outcome(path: str, record: bytes) -> Hashed:
    """One line of ``hashproc``'s answer as ``hash_file`` in a thread would have had it."""
    if record == b"-":
        return None
    if record.startswith(b"!"):
        code, _, why = record[1:].partition(b" ")
        return Unreadable(path, describe_os_error(OSError(int(code), why.decode())))
    size, _, digest = record.partition(b" ")
    return int(size), digest.decode("ascii")
