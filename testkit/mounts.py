"""TEST INFRASTRUCTURE: small file systems mounted for a test (as root), skipped elsewhere."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    """``mount``/``umount`` and the like, found on PATH, their output captured."""
    tool = shutil.which(args[0]) or args[0]
    return subprocess.run([tool, *args[1:]], capture_output=True, text=True, check=False)  # noqa: S603 - fixed tools, test paths


@contextlib.contextmanager
def small_tmpfs(where: Path, *, size: str) -> Iterator[None]:
    """A tmpfs of ``size`` mounted at ``where`` for the block; skips the test when impossible."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    mounted = run_tool("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield
    finally:
        run_tool("umount", str(where))
