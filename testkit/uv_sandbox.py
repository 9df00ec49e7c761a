"""TEST INFRASTRUCTURE: the real ``uv`` run fully isolated, and a machine without uv.

``Sandbox`` runs uv (or a shell script that runs it) with its own HOME, install, bin and cache
directories, no config, always a mirror, proxy variables that point at a trap (``proxy_trap``)
which fails the test if anything tries to leave loopback, and, where ``unshare -n`` is permitted
(``netns``), no network at all for the runs that need none. ``no_uv_path`` is a PATH of links to
just the tools ``use-mirror.sh`` needs (so no uv); ``Stick`` runs a tree's ``use-mirror.sh`` from
such a machine. ``sync_archive`` publishes a fake PBS archive (``pbs_fixture``) on the fake GitHub
and syncs it. The fixtures (``uv_bin``, ``pbs_archive``, ``netns``, ``proxy_trap``, ``sandbox``,
``this_triple``) are registered for the suite in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from mirror_harness import Mirror
from pbs_fixture import TAG, FakePbsArchive, build_fake_pbs_archive
from uv_fixture import find_shell

UV_VERSION = "0.13.9"
"""The messages asserted here are this release's (docs/clients.md §6)."""
UV_TIMEOUT = 60.0
"""Seconds one uv command may take; an install of the fake archive takes about one."""
GZIP_OS_BYTE = 9
"""RFC 1952 §2.3: the header's OS field, which no decoder checks."""

# --------------------------------------------------------------------------- session fixtures


@pytest.fixture(scope="session")
def uv_bin() -> Path:
    """The pinned uv binary; skipped without uv, except under CI=true where that fails."""
    try:
        import uv  # noqa: PLC0415 - a missing uv must skip (or fail in CI), not break collection
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but uv is not installed: the test extra pins uv=={UV_VERSION}")
        pytest.skip(f"uv is not installed (pip install uv=={UV_VERSION})")
    path = Path(uv.find_uv_bin())
    reported = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
        [path, "--version"], capture_output=True, text=True, check=True, timeout=UV_TIMEOUT
    ).stdout
    if reported.split()[1:2] != [UV_VERSION]:
        pytest.fail(f"these tests pin uv {UV_VERSION}, found {reported.strip()!r}")
    return path


@pytest.fixture(scope="session")
def pbs_archive(tmp_path_factory: pytest.TempPathFactory) -> FakePbsArchive:
    """The fake PBS archive of the running CPython, built once per session."""
    return build_fake_pbs_archive(tmp_path_factory.mktemp("pbs"))


@pytest.fixture(scope="session")
def netns() -> tuple[str, ...]:
    """A command prefix that cuts the network (``unshare -n``), or ``()`` where not permitted."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for prefix in ((unshare, "--net"), (unshare, "--map-root-user", "--net")):
        probe = subprocess.run(  # noqa: S603 - fixed arguments
            [*prefix, "true"], capture_output=True, check=False, timeout=UV_TIMEOUT
        )
        if probe.returncode == 0:
            return prefix
    return ()


# --------------------------------------------------------------------------- per-test fixtures


@dataclass
class ProxyTrap:
    """A loopback "proxy" that records every connection uv opens to it and answers nothing."""

    port: int = 0
    requests: list[str] = field(default_factory=list)

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        self.requests.append(line.decode("latin-1").strip())
        writer.close()


@pytest_asyncio.fixture
async def proxy_trap() -> AsyncIterator[ProxyTrap]:
    """Every proxy variable points here; the test fails if uv tried to reach any outside host."""
    trap = ProxyTrap()
    server = await asyncio.start_server(trap.accept, "127.0.0.1", 0)
    trap.port = server.sockets[0].getsockname()[1]
    async with server:
        yield trap
    if trap.requests:
        pytest.fail(f"uv tried to leave loopback: {trap.requests}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    code: int
    output: str
    """stdout and stderr, interleaved as uv wrote them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sandbox:
    """A fresh, isolated uv environment under the test's temporary directory."""

    uv: Path
    base: Path
    proxy: str
    netns: tuple[str, ...]

    @property
    def install_dir(self) -> Path:
        return self.base / "pythons"

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """Nothing inherited but PATH: uv must see no user config, cache or mirror settings."""
        b = self.base
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(b / "home"),
            "XDG_CONFIG_HOME": str(b / "home" / ".config"),
            "XDG_CACHE_HOME": str(b / "home" / ".cache"),
            "XDG_DATA_HOME": str(b / "home" / ".local" / "share"),
            "XDG_BIN_HOME": str(b / "home" / ".local" / "bin"),
            "UV_PYTHON_INSTALL_DIR": str(self.install_dir),
            "UV_PYTHON_BIN_DIR": str(b / "bin"),
            "UV_CACHE_DIR": str(b / "cache"),
            "UV_NO_CONFIG": "1",
            "NO_COLOR": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[var] = env[var.lower()] = self.proxy
        return env | dict(extra)

    async def run(
        self,
        *args: str | Path,
        env: Mapping[str, str],
        offline: bool = False,
        cwd: Path | None = None,
    ) -> Result:
        """Run ``args`` (in ``cwd``, by default the test's); ``offline=True`` also cuts the
        network when ``unshare -n`` works here."""
        argv = [*(self.netns if offline else ()), *map(str, args)]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=self.env(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(UV_TIMEOUT):
                out, _ = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            pytest.fail(f"{argv} took more than {UV_TIMEOUT}s")
        assert proc.returncode is not None
        return Result(code=proc.returncode, output=out.decode("utf-8", "replace"))

    async def uv_run(
        self, *args: str | Path, env: Mapping[str, str], offline: bool = False
    ) -> Result:
        return await self.run(self.uv, *args, env=env, offline=offline)

    def installed(self) -> set[str]:
        """The managed installations present, minor-version links included (not uv's lock)."""
        if not self.install_dir.is_dir():
            return set()
        return {p.name for p in self.install_dir.iterdir() if p.name.startswith("cpython-")}


@pytest.fixture
def sandbox(uv_bin: Path, tmp_path: Path, netns: tuple[str, ...], proxy_trap: ProxyTrap) -> Sandbox:
    """An empty, isolated uv home for one test."""
    base = tmp_path / "uv"
    base.mkdir()
    return Sandbox(uv=uv_bin, base=base, proxy=f"http://127.0.0.1:{proxy_trap.port}", netns=netns)


async def sync_archive(mirror: Mirror, archive: FakePbsArchive, **settings: object) -> None:
    """Publish ``archive`` on the fake GitHub with its digest and sync it into ``mirror``."""
    mirror.fake.add_release(TAG, {archive.name: archive.data}, checksums="digest")
    mirror.configure(**settings)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert (mirror.root / archive.mirror_path).read_bytes() == archive.data


def installed_line(archive: FakePbsArchive) -> re.Pattern[str]:
    return re.compile(rf"^Installed Python {re.escape(archive.version)} in ", re.MULTILINE)


def assert_installed(result: Result, archive: FakePbsArchive) -> None:
    """uv exited 0 and said it installed ``archive``'s version."""
    assert result.code == 0, result.output
    assert installed_line(archive).search(result.output), result.output


# --------------------------------------------------------------------------- a machine without uv

STICK_TOOLS: tuple[str, ...] = ("dirname", "sed", "uname", "sort", "getconf", "sha256sum")
STICK_TOOLS += ("mkdir", "rm", "gzip", "tar", "mv")
"""What use-mirror.sh runs to find, check and unpack the stick's uv (coreutils and friends)."""


@pytest.fixture(scope="session")
def this_triple(pbs_archive: FakePbsArchive) -> str:
    """uv's triple for this machine (glibc Linux, as the fake PBS archive requires)."""
    return f"{pbs_archive.arch}-unknown-linux-gnu"


def no_uv_path(where: Path, *extra: Path) -> str:
    """A PATH of links to ``STICK_TOOLS`` only (so no uv), then ``extra`` directories."""
    where.mkdir()
    for tool in STICK_TOOLS:
        found = shutil.which(tool)
        assert found is not None, f"{tool} is not installed here"
        (where / tool).symlink_to(found)
    return os.pathsep.join(map(str, (where, *extra)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Stick:
    """A synced mirror that carries uv, a PATH without uv, and where uv gets unpacked."""

    root: Path
    path: str
    sandbox: Sandbox
    triple: str

    @property
    def unpacked(self) -> Path:
        """``${XDG_DATA_HOME}/mirrorsync/uv``: everything the script unpacks is below it."""
        return self.sandbox.base / "home" / ".local" / "share" / "mirrorsync" / "uv"

    def uv_dir(self, version: str = UV_VERSION, triple: str | None = None) -> Path:
        return self.unpacked / version / (triple or self.triple)

    async def use(
        self, *command: str, shell: str = "sh", path: str | None = None, cwd: Path | None = None
    ) -> Result:
        """``<shell> use-mirror.sh command…`` with this PATH, offline (in ``cwd``)."""
        script = self.root / "use-mirror.sh"
        env = {"PATH": self.path if path is None else path}
        return await self.sandbox.run(
            find_shell(shell), script, *command, env=env, offline=True, cwd=cwd
        )


def assert_nothing_installed(stick: Stick) -> None:
    """No Python installed and nothing unpacked (not even a directory)."""
    assert stick.sandbox.installed() == set()
    assert not stick.unpacked.parent.exists()
