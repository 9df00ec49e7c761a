"""Run one measured child process; describe the machine; measure its disk and hashing limits."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

MIB = 1 << 20
# Variables that would change what a child does: a token (sent to the fake), proxies (loopback
# must not go through one), and config lookup.
_SCRUBBED = (
    "GITHUB_TOKEN",
    "MIRRORSYNC_CONFIG",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRun:
    """One finished child: its exit code, wall time, own CPU and peak RSS, and its output."""

    exit_code: int
    wall: float
    """Seconds from spawn to exit, interpreter start included."""
    user: float
    system: float
    max_rss: int
    """Peak resident set size in bytes (``ru_maxrss`` of ``wait4``)."""
    stdout: bytes
    stderr: bytes

    @property
    def cpu(self) -> float:
        return self.user + self.system


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    # Bytecode kept, as an installed mirrorsync has it (pip compiles it at install, Python itself
    # on the first run): with PYTHONDONTWRITEBYTECODE from the caller's shell every measured run
    # compiled mirrorsync's modules from source, ~0.07 CPU s of start-up no operator pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_bytecode(*, env: Mapping[str, str], cwd: Path) -> None:
    """Compile mirrorsync's modules once, before any measured run (see ``child_env``)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "mirrorsync"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        check=True,
    )


# A tiny launcher between us and the measured program. On Linux a process's ``ru_maxrss`` starts
# at the peak RSS of the memory image it replaced at exec: a program spawned straight from this
# (large) interpreter would report at least our own peak. The launcher, started with -I -S, is
# ~9 MB; it forks, execs the program, reaps it with wait4 and writes the figures to a file. Its
# clock starts right before the fork, so its own start-up is not counted.
_LAUNCHER = """
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - began
with open(result, "w") as f:
    code = os.waitstatus_to_exitcode(status)
    f.write(f"{code} {wall!r} {usage.ru_utime!r} {usage.ru_stime!r} {usage.ru_maxrss}")
"""


def run_child(
    argv: Sequence[str],
    *,
    scratch: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ChildRun:
    """Run ``argv`` (an absolute program path first) to completion and measure it alone."""
    scratch.mkdir(parents=True, exist_ok=True)
    out, err, result = scratch / "stdout", scratch / "stderr", scratch / "rusage"
    result.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(result), *argv]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # The commands are built by this package from fixed programs and generated paths.
        subprocess.run(  # noqa: S603
            launcher,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=cwd,
            check=True,
        )
    code, wall, user, system, max_rss = result.read_text(encoding="utf-8").split()
    return ChildRun(
        exit_code=int(code),
        wall=float(wall),
        user=float(user),
        system=float(system),
        max_rss=int(max_rss) * 1024,  # KiB on Linux
        stdout=out.read_bytes(),
        stderr=err.read_bytes(),
    )


def program(name: str) -> str | None:
    return shutil.which(name)


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - a fixed program found by shutil.which
            argv, capture_output=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = done.stdout.decode(errors="replace").splitlines()
    return lines[0].strip() if lines else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / MIB:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _filesystem(path: Path) -> str:
    """The mount (device, type) that holds ``path``: the longest mount point above it."""
    best, found = "", "unknown"
    target = str(path.resolve())
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in mounts:
        device, point, kind = line.split()[:3]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, found = point, f"{kind} on {device} (mounted at {point})"
    return found


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine(workdir: Path) -> dict[str, str]:
    """What the figures depend on, for BENCHMARKS.md."""
    curl, aria2c = program("curl"), program("aria2c")
    return {
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical CPUs",
        "memory": _memory(),
        "kernel": f"{platform.system()} {platform.release()}",
        "filesystem": _filesystem(workdir),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "aiohttp": metadata.version("aiohttp"),
        "curl": _version([curl, "--version"]) if curl else "absent",
        "aria2c": _version([aria2c, "--version"]) if aria2c else "absent",
        "load average at start": load_average(),
    }


def disk_write(path: Path, *, size: int, scratch: Path) -> ChildRun:
    """``dd`` of ``size`` bytes of zeros into ``path`` with ``conv=fsync``: the disk's limit."""
    dd = program("dd")
    if dd is None:
        raise RuntimeError("dd is not installed")
    argv = [dd, "if=/dev/zero", f"of={path}", "bs=1M", f"count={size // MIB}", "conv=fsync"]
    return run_child(argv, scratch=scratch)


def hash_file(path: Path, *, scratch: Path) -> ChildRun:
    """``sha256sum`` of a file that is in the page cache: the hashing limit."""
    tool = program("sha256sum")
    if tool is None:
        raise RuntimeError("sha256sum is not installed")
    return run_child([tool, str(path)], scratch=scratch)


_HASHLIB = """
import hashlib, sys
digest = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    while block := f.read(1 << 20):
        digest.update(block)
print(digest.hexdigest())
"""


def hash_file_hashlib(path: Path, *, scratch: Path) -> ChildRun:
    """Python's ``hashlib.sha256`` (what mirrorsync hashes with) over the same cached file."""
    return run_child([sys.executable, "-I", "-S", "-c", _HASHLIB, str(path)], scratch=scratch)


def start_up(*, scratch: Path, env: dict[str, str], cwd: Path) -> ChildRun:
    """The interpreter and every module a ``sync`` imports before it works, and no work.

    Not ``--version``: the command line imports the network side (aiohttp and its SSL
    contexts, ~0.1 s) only for the commands that use it, so ``--version`` no longer measures
    the start-up a sync pays."""
    imports = "import mirrorsync.cli, mirrorsync.commands.sync"
    return run_child([sys.executable, "-c", imports], scratch=scratch, env=env, cwd=cwd)
