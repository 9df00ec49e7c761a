"""TEST INFRASTRUCTURE: which processes the code under test started, and whether they are gone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def spawned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process ids of the processes ``asyncio.create_subprocess_exec`` starts from now on
    (until the test ends)."""
    pids: list[int] = []
    real: Callable[..., Any] = asyncio.create_subprocess_exec

    async def spy(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc: asyncio.subprocess.Process = await real(*args, **kwargs)
        pids.append(proc.pid)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    return pids


def reaped(pid: int) -> bool:
    """Whether the process has exited and been waited for (not even a zombie is left)."""
    return not Path(f"/proc/{pid}").exists()
