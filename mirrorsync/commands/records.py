"""The records a sync run leaves in the state directory: ``status.json``, ``history.jsonl``, the
diff file; and ``Ledger``, what the run has changed so far, which they are written from."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mirrorsync import __version__
from mirrorsync.config.records import Config
from mirrorsync.core.manifest import render_status
from mirrorsync.core.model import IndexEntry, SyncReport
from mirrorsync.core.units import timestamp
from mirrorsync.errors import Interrupted, MirrorsyncError, TargetError, describe_os_error
from mirrorsync.targets.base import Target
from mirrorsync.targets.files import write_atomic

log = logging.getLogger(__name__)

GENERATOR = f"mirrorsync {__version__}"
STATUS_PATH = "status.json"
HISTORY_PATH = "history.jsonl"
HISTORY_KEEP = 200
"""Runs remembered in ``history.jsonl`` (one JSON object a line, oldest first)."""


def stop_status(error: BaseException) -> str:
    """The status word of a run stopped by ``error``: ``interrupted`` for Ctrl-C or SIGTERM
    (however it arrived: a cancelled task, ``KeyboardInterrupt``, ``Interrupted``), else
    ``failed``. ``status.json`` and the summary line both say it."""
    stopped = asyncio.CancelledError | KeyboardInterrupt | Interrupted
    return "interrupted" if isinstance(error, stopped) else "failed"


@dataclass(slots=True)
class Changes:
    """What a run changed, for the diff file: (change, path) pairs, ``added``, ``changed`` or
    ``removed``. Held as a list of paths per change word: no pair object per file of a
    whole-history run. Iterated by change word (in the order each was first made), then in the
    order the paths came."""

    _paths: dict[str, list[str]] = field(default_factory=dict)

    def add(self, change: str, path: str) -> None:
        self._paths.setdefault(change, []).append(path)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for change, paths in self._paths.items():
            for path in paths:
                yield change, path

    def __bool__(self) -> bool:
        return bool(self._paths)

    def clear(self) -> None:
        self._paths.clear()


@dataclass(slots=True, kw_only=True)
class Ledger:
    """What a run found and has changed so far: the planner fills in the first two fields, the
    applier the rest; the records and the indexes are written from it, also when a run aborts."""

    previous: dict[str, IndexEntry] = field(default_factory=dict)
    """The entries of the index as the run found it."""
    index_existed: bool = False
    """Whether the run found an ``index.json`` (even a damaged one)."""
    entries: dict[str, IndexEntry] = field(default_factory=dict)
    """What the mirror holds now: the index the run will write."""
    changes: Changes = field(default_factory=Changes)
    """(change, path) for the diff file: added, changed, removed."""
    client_fingerprint: str | None = None
    """What the client files were last written for (kept in status.json)."""
    notes: list[str] = field(default_factory=list)
    """What the run leaves out on this target and why (a file system without links), for
    ``status.json``: nothing is wrong, so no warning."""
    held: tuple[int, int] | None = None
    """(files, bytes) the mirror holds when an idle run skipped reading the index (they are the
    last run's figures, unchanged); None when the entries say."""

    @property
    def touched(self) -> bool:
        """Whether the run reached the mirror's files (it holds entries or made changes)."""
        return bool(self.entries or self.changes)


@dataclass(slots=True)
class RunRecords:
    """Writes one run's ``status.json``, ``history.jsonl`` line and diff-file lines."""

    cfg: Config
    tree: Target
    ledger: Ledger
    report: SyncReport
    _: KW_ONLY
    now: Callable[[], datetime]
    started: datetime = field(init=False)
    """When the run started (``now()`` when the records were made)."""
    t0: float = field(init=False)
    """``time.monotonic()`` then, for the run's duration."""

    def __post_init__(self) -> None:
        self.started = self.now()
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.t0

    def finish(self, status: str) -> None:
        """Record a run that reached its end (``success``, ``partial`` or ``refused``)."""
        self.report.seconds = self.elapsed()
        self.append_diff()
        self.write_status(status)

    def abort(self, error: BaseException) -> None:
        """Record a run stopped by ``error`` or an interruption; never raises a run's error."""
        self.report.seconds = self.elapsed()
        status = stop_status(error)
        try:
            self.append_diff()
            self.write_status(status, error=str(error) or type(error).__name__)
        except (MirrorsyncError, OSError) as e:
            log.error("cannot record the run's status: %s", e)

    def append_diff(self) -> None:
        """Append the run's changes to ``diff_file`` (when set), once."""
        changes = self.ledger.changes
        diff_file = self.cfg.diff_file
        if diff_file is None or not changes:
            return
        lines = [f"# {timestamp(self.started)} {GENERATOR}"]
        lines += [f"{change}\t{path}" for change, path in sorted(changes, key=lambda c: c[1])]
        try:
            diff_file.parent.mkdir(parents=True, exist_ok=True)
            with diff_file.open("a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        except OSError as e:
            raise TargetError(f"{diff_file}: cannot append ({describe_os_error(e)})") from e
        changes.clear()

    def read_status(self) -> dict[str, Any] | None:
        """The previous run's ``status.json``, or None when absent or unreadable."""
        try:
            previous = json.loads((self.tree.state_dir / STATUS_PATH).read_bytes())
        except (OSError, ValueError):
            return None
        return previous if isinstance(previous, dict) else None

    def write_status(self, status: str, *, error: str | None = None) -> None:
        """Write ``status.json`` and append the run to ``history.jsonl``."""
        report, ledger = self.report, self.ledger
        previous = self.read_status()
        extra: dict[str, Any] = {
            "fetched": report.fetched,
            "kept": report.kept,
            "pruned": report.pruned,
            "failed": [{"path": f.path, "error": f.error} for f in report.failed],
            "bytes_downloaded": report.bytes_downloaded,
            "generator": GENERATOR,
            "client_files": ledger.client_fingerprint,
        }
        if error:
            extra["error"] = error
        if ledger.notes:
            extra["notes"] = list(ledger.notes)
        # Before the run reached its files, the mirror is still what the old index says.
        holding = ledger.entries if ledger.touched else ledger.previous
        files = len(holding) if ledger.held is None else ledger.held[0]
        size = sum(e.size for e in holding.values()) if ledger.held is None else ledger.held[1]
        ended = self.now()
        document = render_status(
            previous=previous,
            status=status,
            started=self.started,
            ended=ended,
            upstream=self.cfg.upstream.describe(),
            size=size,
            files=files,
            extra=extra,
        )
        path = self.tree.state_dir / STATUS_PATH
        try:
            write_atomic(path, document)
        except OSError as e:
            _stand_in_status(path, status=status, ended=ended, error=e)
            raise
        record = {
            "started": timestamp(self.started),
            "ended": timestamp(ended),
            "status": status,
            "seconds": round(self.elapsed(), 3),
            "files": files,
            **{k: v for k, v in extra.items() if k not in ("generator", "client_files", "notes")},
        }
        append_history(self.tree.state_dir / HISTORY_PATH, record)


def _stand_in_status(path: Path, *, status: str, ended: datetime, error: OSError) -> None:
    """After ``status.json`` could not be replaced (a full disk, say), never leave the last
    run's "success" standing: overwrite it in place with a short document (rewriting blocks the
    file has needs no free space), or remove it when even that fails."""
    reason = f"cannot record this run ({describe_os_error(error)})"
    short = {"status": status, "last_ended": timestamp(ended), "error": reason}
    data = json.dumps(short).encode("utf-8") + b"\n"
    try:
        with path.open("r+b") as f:
            f.write(data)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
    except FileNotFoundError:
        return
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()


def append_history(path: Path, record: Mapping[str, Any]) -> None:
    """Append one run to the history, keeping the last ``HISTORY_KEEP`` runs."""
    line = json.dumps(record, separators=(",", ":")) + "\n"
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
    except (OSError, UnicodeDecodeError) as e:
        log.warning("%s: unreadable (%s); starting a new history", path, e)
        lines = []
    lines = [*lines[-(HISTORY_KEEP - 1) :], line]
    write_atomic(path, "".join(lines).encode("utf-8"))
