"""TEST INFRASTRUCTURE: a mirror root with its config, synced in-process against the fake GitHub."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FakeClock, NoSleep
from fake_github import FakeGitHub

from mirrorsync.commands.sync import Outcome, Runtime, run_sync
from mirrorsync.commands.verify import ROOT_FILES, TAG_FILES
from mirrorsync.config.load import load_config
from mirrorsync.core.layout import CLIENT_LAYOUTS, release_dir
from mirrorsync.errors import MirrorsyncError


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def fake_time_runtime(
    *, sleep: Callable[[float], Awaitable[None]], clock: Callable[[], float], token: str | None
) -> Runtime:
    """A runtime whose sleeps, clocks and timestamps all follow the test's fake clock."""
    return Runtime(
        sleep=sleep,
        clock=clock,
        monotonic=clock,
        now=lambda: datetime.fromtimestamp(clock(), UTC),
        token=token,
    )


async def exit_code_of(run: Awaitable[Outcome]) -> int:
    """A run reduced to its exit code as the CLI would give it."""
    try:
        return (await run).exit_code
    except MirrorsyncError as e:
        return e.exit_code


@dataclass
class Mirror:
    """A mirror root under a temporary directory, configured to sync from ``fake``."""

    base: Path
    fake: FakeGitHub
    sleep: NoSleep
    clock: FakeClock
    settings: dict[str, Any] = field(default_factory=dict)
    token: str | None = None

    @property
    def root(self) -> Path:
        return self.base / "mirror"

    @property
    def config_path(self) -> Path:
        return self.base / "mirror.yaml"

    def configure(self, **settings: Any) -> Path:
        """Write the config: fake upstream, ``./mirror`` target, all releases, plus ``settings``."""
        doc = _merge(
            {
                "upstream": {"api_url": self.fake.api_url},
                "releases": {"latest": None},
                "target": {"path": "mirror"},
            },
            settings,
        )
        self.settings = doc
        self.config_path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return self.config_path

    def runtime(self) -> Runtime:
        return fake_time_runtime(sleep=self.sleep, clock=self.clock, token=self.token)

    async def sync(self, *, dry_run: bool = False) -> Outcome:
        """One run; raises what the run raises."""
        if not self.config_path.exists():
            self.configure()
        cfg = load_config(self.config_path)
        return await run_sync(cfg, dry_run=dry_run, runtime=self.runtime())

    async def run(self, *, dry_run: bool = False) -> int:
        """One run, reduced to its exit code as the CLI would give it."""
        return await exit_code_of(self.sync(dry_run=dry_run))

    def index(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.root / "index.json").read_bytes())
        return doc

    def indexed(self) -> dict[str, dict[str, Any]]:
        return {f["path"]: f for f in self.index()["files"]}

    def published(self) -> set[str]:
        """Every file of the releases (and of ``uv/<version>/``): no state, indexes, checksum
        lists or client files."""
        found = set()
        for p in self.root.rglob("*"):
            rel = p.relative_to(self.root)
            top = rel.parts[0]
            if top in (".mirrorsync", *CLIENT_LAYOUTS) or not p.is_file() or p.is_symlink():
                continue
            if (len(rel.parts) == 1 and p.name in ROOT_FILES) or (
                p.name in TAG_FILES and release_dir(rel.as_posix()) is not None
            ):
                continue
            found.add(rel.as_posix())
        return found

    def status(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.root / ".mirrorsync" / "status.json").read_bytes())
        return doc

    def sha256(self, path: str) -> str:
        return hashlib.sha256((self.root / path).read_bytes()).hexdigest()


@pytest.fixture
def mirror(
    tmp_path: Path, fake_github: FakeGitHub, no_sleep: NoSleep, fake_clock: FakeClock
) -> Mirror:
    """An empty mirror root configured against the started fake GitHub."""
    return Mirror(base=tmp_path, fake=fake_github, sleep=no_sleep, clock=fake_clock)
