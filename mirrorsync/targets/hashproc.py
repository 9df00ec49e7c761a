"""A hashing process: run as a script (``python -I -S hashproc.py``) in the mirror's root, it
hashes the batches of files ``local.LocalTree.hash_files`` sends it, so that the per-file work
(open, read, close, the digest's Python calls) of tens of thousands of small files runs outside
the main interpreter and its lock: both cores busy.

It imports nothing but ``hashlib``, ``os``, ``sys`` and ``fcntl`` (it starts in ~20 ms, ~13 MB),
and never anything of mirrorsync: it runs without ``site``, so it need not find the package.

The protocol, bytes on its standard streams:

- in, one line a batch: ``/``-paths relative to the root, separated by NUL (a checked path holds
  neither NUL nor a line end); end of input: exit.
- out: ``+<n>`` lines telling bytes read as they are read (every ``PROGRESS`` bytes), then per
  batch one line ``=<length> <bytes not yet told>`` followed by ``length`` bytes of records, one
  line a file, in order: ``<size> <sha256 hex>``, ``-`` (absent) or ``!<errno> <why>`` (could not
  be read).

It is put in a process group of its own, so a Ctrl-C at the terminal reaches only the main
process, which stops it; if the main process dies, its next read of input or write of output
ends it.
"""

from __future__ import annotations

import hashlib
import os
import sys

BLOCK = 1 << 20
PROGRESS = 8 << 20
PIPE = 1 << 20
"""Bytes each pipe should hold: Linux allows up to 1 MiB to anyone by default."""
_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def hash_batch(paths: list[bytes], buf: bytearray, out: list[bytes], told: list[int]) -> None:
    """Append one record per path to ``out``; ``told[0]``: bytes read but not yet told."""
    view = memoryview(buf)
    write = sys.stdout.buffer
    for path in paths:
        digest = hashlib.sha256()
        size = 0
        try:
            fd = os.open(path, _FLAGS)
            try:
                while n := os.readv(fd, (buf,)):
                    digest.update(view[:n])
                    size += n
                    told[0] += n
                    if told[0] >= PROGRESS:
                        write.write(b"+%d\n" % told[0])
                        write.flush()
                        told[0] = 0
            finally:
                os.close(fd)
        except FileNotFoundError:
            out.append(b"-")
            continue
        except OSError as e:
            why = e.strerror or str(e)
            out.append(b"!%d %s" % (e.errno or 0, why.encode("utf-8", "replace")))
            continue
        out.append(b"%d %s" % (size, digest.hexdigest().encode()))


def widen_pipes() -> None:
    """Make both pipes hold ``PIPE`` bytes where the system allows (Linux): the main process,
    busy parsing the index, then sends many batches at once and reads their outcomes late
    without this process ever waiting for it."""
    try:
        import fcntl  # noqa: PLC0415 - only where there is one
    except ImportError:
        return
    command: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
    if command is None:
        return
    for fd in (0, 1):
        try:  # noqa: SIM105 - contextlib would double this process's imports
            fcntl.fcntl(fd, command, PIPE)
        except OSError:
            pass  # not a pipe, or over the system's limit: the default size works, slower


def main() -> int:
    """Hash batches until the input ends."""
    widen_pipes()
    buf = bytearray(BLOCK)
    told = [0]
    write = sys.stdout.buffer
    for line in sys.stdin.buffer:
        records: list[bytes] = []
        hash_batch(line.rstrip(b"\n").split(b"\0"), buf, records, told)
        body = b"\n".join(records) + b"\n"
        write.write(b"=%d %d\n" % (len(body), told[0]))
        write.write(body)
        write.flush()
        told[0] = 0
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BrokenPipeError, KeyboardInterrupt):  # the main process is gone or stopping us
        os._exit(1)
