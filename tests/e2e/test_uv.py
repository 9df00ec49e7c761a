"""The real ``uv`` (0.13.9, from PyPI) installs Python from a mirror that ``mirrorsync sync`` built.

``docs/clients.md`` §6: a small PBS archive made from the running CPython (``pbs_fixture``) is
published by the fake GitHub with its true digest, synced in-process, then installed by uv through
each mirror knob. uv runs fully isolated: its own HOME, install, bin and cache directories, no
config, always a mirror, proxy variables that point at a trap which fails the test if anything
tries to leave loopback, and, where ``unshare -n`` is permitted, no network at all for the runs
that need none.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from mirror_harness import Mirror
from pbs_fixture import TAG, FakePbsArchive, build_fake_pbs_archive, unsupported_reason
from uv_fixture import (
    SHELLS,
    archive_name,
    build_uv_archive,
    find_shell,
    publish_uv_release,
    write_uv_release,
)

from mirrorsync.commands.serve import build_app
from mirrorsync.commands.sync import run_sync
from mirrorsync.config.load import load_config

pytestmark = pytest.mark.e2e

if (_UNSUPPORTED := unsupported_reason()) is not None:
    pytest.skip(_UNSUPPORTED, allow_module_level=True)

UV_VERSION = "0.13.9"
"""The messages asserted here are this release's (docs/clients.md §6)."""
UV_TIMEOUT = 60.0
"""Seconds one uv command may take; an install of the fake archive takes about one."""
ASTRAL_PATH = "github/python-build-standalone/releases/download"
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

    async def run(self, *args: str | Path, env: Mapping[str, str], offline: bool = False) -> Result:
        """Run ``args``; ``offline=True`` also cuts the network when ``unshare -n`` works here."""
        argv = [*(self.netns if offline else ()), *map(str, args)]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=self.env(env),
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


@asynccontextmanager
async def serving(root: Path) -> AsyncIterator[str]:
    """``mirrorsync serve``'s application over ``root`` on a free loopback port: its base URL."""
    runner = web.AppRunner(build_app(root), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def synced(mirror: Mirror, pbs_archive: FakePbsArchive) -> Mirror:
    """A mirror that ``sync`` filled from a fake GitHub publishing the archive with its digest."""
    await sync_archive(mirror, pbs_archive)
    return mirror


@pytest_asyncio.fixture
async def served(synced: Mirror) -> AsyncIterator[str]:
    """The synced root served over HTTP: its base URL, without a trailing slash."""
    async with serving(synced.root) as base:
        yield base


def installed_line(archive: FakePbsArchive) -> re.Pattern[str]:
    return re.compile(rf"^Installed Python {re.escape(archive.version)} in ", re.MULTILINE)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mirrorsync.commands.serve"]


def assert_served(caplog: pytest.LogCaptureFixture, request: str) -> None:
    """``serve``'s access log has a line with ``request`` (the request line and its status)."""
    assert [line for line in access_lines(caplog) if request in line], access_lines(caplog)


def assert_installed(result: Result, archive: FakePbsArchive) -> None:
    """uv exited 0 and said it installed ``archive``'s version."""
    assert result.code == 0, result.output
    assert installed_line(archive).search(result.output), result.output


# --------------------------------------------------------------------------- tests


async def test_install_over_http_from_mirrorsync_serve(
    synced: Mirror,
    served: str,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """uv installs through UV_PYTHON_INSTALL_MIRROR from `serve`, asking for `%2B`, and it runs."""
    caplog.set_level(logging.INFO, logger="mirrorsync.commands.serve")
    env = {
        "UV_PYTHON_INSTALL_MIRROR": f"{served}/",
        "UV_PYTHON_DOWNLOADS_JSON_URL": str(synced.root / "download-metadata.json"),
    }
    v = pbs_archive.version
    result = await sandbox.uv_run("python", "install", v, env=env)
    assert_installed(result, pbs_archive)
    request = f'"GET /{TAG}/{pbs_archive.quoted_name} HTTP/1.1" 200 {len(pbs_archive.data)} '
    assert_served(caplog, request)

    found = await sandbox.uv_run("python", "find", "--managed-python", v, env=env, offline=True)
    assert found.code == 0, found.output
    assert Path(found.output.strip()).is_relative_to(sandbox.install_dir)
    script = "import ssl, sys; print(sys.version); print(sys.base_prefix)"
    ran = await sandbox.uv_run(
        "run",
        "--no-project",
        "--managed-python",
        "--python",
        v,
        "python",
        "-c",
        script,
        env=env,
        offline=True,
    )
    assert ran.code == 0, ran.output
    version, base_prefix = ran.output.strip().splitlines()[-2:]
    assert version.startswith(f"{v} ")
    assert Path(base_prefix).is_relative_to(sandbox.install_dir)
    assert sandbox.installed() == pbs_archive.installed


async def test_install_from_file_url_offline(
    synced: Mirror, sandbox: Sandbox, pbs_archive: FakePbsArchive
) -> None:
    """An absolute `file://` mirror and a `file://` list install with `--offline` and no network."""
    env = {
        "UV_PYTHON_INSTALL_MIRROR": synced.root.as_uri(),
        "UV_PYTHON_DOWNLOADS_JSON_URL": (synced.root / "download-metadata.json").as_uri(),
    }
    result = await sandbox.uv_run(
        "python", "install", "--offline", pbs_archive.version, env=env, offline=True
    )
    assert_installed(result, pbs_archive)
    assert sandbox.installed() == pbs_archive.installed


async def test_download_metadata_entry_matches_archive(
    synced: Mirror, pbs_archive: FakePbsArchive
) -> None:
    """download-metadata.json holds one entry: uv's key, the canonical URL and the true sha256."""
    meta = json.loads((synced.root / "download-metadata.json").read_bytes())
    assert list(meta) == [pbs_archive.uv_key]
    entry = meta[pbs_archive.uv_key]
    major, minor, patch = map(int, pbs_archive.version.split("."))
    assert entry["url"] == pbs_archive.github_url
    assert entry["sha256"] == pbs_archive.sha256
    assert (entry["major"], entry["minor"], entry["patch"]) == (major, minor, patch)
    assert (entry["os"], entry["libc"], entry["arch"]["family"]) == (
        "linux",
        "gnu",
        pbs_archive.arch,
    )
    assert entry["build"] == TAG


async def test_mirror_metadata_installs_without_a_mirror_variable(
    mirror: Mirror,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With `publish.base_url`, download-metadata.mirror.json alone points uv at the mirror."""
    caplog.set_level(logging.INFO, logger="mirrorsync.commands.serve")
    mirror.root.mkdir()
    async with serving(mirror.root) as base:
        await sync_archive(mirror, pbs_archive, publish={"base_url": base})
        env = {"UV_PYTHON_DOWNLOADS_JSON_URL": str(mirror.root / "download-metadata.mirror.json")}
        result = await sandbox.uv_run("python", "install", pbs_archive.version, env=env)
    assert_installed(result, pbs_archive)
    request = f'"GET /{TAG}/{pbs_archive.quoted_name} HTTP/1.1" 200 '
    assert_served(caplog, request)


async def test_astral_mirror_url_through_the_layout_link(
    synced: Mirror,
    served: str,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """UV_ASTRAL_MIRROR_URL alone makes uv fetch `{base}/github/…/download/{tag}/{name}`."""
    caplog.set_level(logging.INFO, logger="mirrorsync.commands.serve")
    assert (synced.root / ASTRAL_PATH).is_symlink()
    env = {
        "UV_ASTRAL_MIRROR_URL": served,
        "UV_PYTHON_DOWNLOADS_JSON_URL": str(synced.root / "download-metadata.json"),
    }
    result = await sandbox.uv_run("python", "install", pbs_archive.version, env=env)
    assert_installed(result, pbs_archive)
    request = f'"GET /{ASTRAL_PATH}/{TAG}/{pbs_archive.quoted_name} HTTP/1.1" 200 '
    assert_served(caplog, request)


async def test_astral_mirror_url_has_no_fallback(
    synced: Mirror,
    served: str,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    proxy_trap: ProxyTrap,
) -> None:
    """A 404 from UV_ASTRAL_MIRROR_URL fails at once: uv falls back to neither Astral nor GitHub."""
    env = {
        "UV_ASTRAL_MIRROR_URL": f"{served}/nowhere",
        "UV_PYTHON_DOWNLOADS_JSON_URL": str(synced.root / "download-metadata.json"),
    }
    result = await sandbox.uv_run("python", "install", pbs_archive.version, env=env)
    assert result.code == 1, result.output
    url = f"{served}/nowhere/{ASTRAL_PATH}/{TAG}/{pbs_archive.quoted_name}"
    assert f"HTTP status client error (404 Not Found) for url ({url})" in result.output
    assert proxy_trap.requests == []
    assert sandbox.installed() == set()


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param("pbs mirror", id="space"),
        # A file:// URL parser reads a raw backslash as "/" (WHATWG "special" scheme).
        pytest.param("pbs\\mirror", id="backslash"),
    ],
)
async def test_use_mirror_sh_from_a_copy_under_an_awkward_path(
    synced: Mirror, sandbox: Sandbox, pbs_archive: FakePbsArchive, tmp_path: Path, folder: str
) -> None:
    """`sh use-mirror.sh uv python install` installs from a `cp -a` copy whose path has a space."""
    copy = tmp_path / "usb stick" / folder
    copy.parent.mkdir()
    cp = await sandbox.run("cp", "-a", synced.root, copy, env={})
    assert cp.code == 0, cp.output
    synced.root.rename(tmp_path / "original-gone")  # only the copy can serve the install

    shown = await sandbox.run("sh", copy / "use-mirror.sh", env={}, offline=True)
    assert shown.code == 0, shown.output
    assert f"export UV_PYTHON_INSTALL_MIRROR='{copy.as_uri()}'" in shown.output.splitlines()
    result = await sandbox.run(
        "sh",
        copy / "use-mirror.sh",
        sandbox.uv,
        "python",
        "install",
        "--offline",
        pbs_archive.version,
        env={},
        offline=True,
    )
    assert_installed(result, pbs_archive)
    assert sandbox.installed() == pbs_archive.installed


async def test_tampered_archive_fails_with_hash_mismatch(
    synced: Mirror, sandbox: Sandbox, pbs_archive: FakePbsArchive
) -> None:
    """One flipped byte in the mirrored archive: uv reports `Hash mismatch`, installs nothing."""
    archive = synced.root / pbs_archive.mirror_path
    data = bytearray(archive.read_bytes())
    # The gzip header's OS byte: the archive still unpacks, so uv reaches its hash check. A byte
    # flipped inside the deflate stream fails extraction first (`invalid tar identity`, …).
    data[GZIP_OS_BYTE] ^= 0xFF
    archive.write_bytes(data)
    env = {
        "UV_PYTHON_INSTALL_MIRROR": synced.root.as_uri(),
        "UV_PYTHON_DOWNLOADS_JSON_URL": str(synced.root / "download-metadata.json"),
    }
    result = await sandbox.uv_run(
        "python", "install", "--offline", pbs_archive.version, env=env, offline=True
    )
    assert result.code == 1, result.output
    assert f"error: Failed to install {pbs_archive.uv_key}" in result.output
    mismatch = (
        rf"Hash mismatch for `{re.escape(pbs_archive.uv_key)}`\s+"
        rf"Expected:\s+{pbs_archive.sha256}\s+Computed:\s+{hashlib.sha256(data).hexdigest()}\s"
    )
    assert re.search(mismatch, result.output), result.output
    assert sandbox.installed() == set()


LIST_CASES = [
    pytest.param({"UV_PYTHON_INSTALL_MIRROR": "{base}/"}, "{base}/{tag}/", id="install-mirror"),
    pytest.param(
        {"UV_ASTRAL_MIRROR_URL": "{base}"}, "{base}/" + ASTRAL_PATH + "/{tag}/", id="astral"
    ),
    pytest.param(
        {"UV_PYTHON_INSTALL_MIRROR": "{base}/", "UV_ASTRAL_MIRROR_URL": "{base}/elsewhere"},
        "{base}/{tag}/",
        id="install-mirror-wins-over-astral",
    ),
    pytest.param(
        {
            "UV_PYTHON_INSTALL_MIRROR": "{base}/",
            "UV_PYTHON_DOWNLOADS_JSON_URL": "{base}/download-metadata.json",
        },
        "{base}/{tag}/",
        id="list-served-over-http",
    ),
]


@pytest.mark.parametrize(("variables", "prefix"), LIST_CASES)
async def test_list_shows_mirror_url_with_encoded_plus(
    synced: Mirror,
    served: str,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    *,
    variables: dict[str, str],
    prefix: str,
) -> None:
    """`uv python list --only-downloads --show-urls` prints the mirror-rewritten URL with `%2B`."""
    env = {"UV_PYTHON_DOWNLOADS_JSON_URL": str(synced.root / "download-metadata.json")}
    env |= {name: value.format(base=served) for name, value in variables.items()}
    result = await sandbox.uv_run(
        "python", "list", "--managed-python", "--only-downloads", "--show-urls", env=env
    )
    assert result.code == 0, result.output
    url = prefix.format(base=served, tag=TAG) + pbs_archive.quoted_name
    line = rf"^{re.escape(pbs_archive.uv_key)}\s+{re.escape(url)}$"
    assert re.search(line, result.output, re.MULTILINE), result.output


async def test_install_from_a_mirror_chained_from_another(
    served: str,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    tmp_path: Path,
) -> None:
    """Mirror B, synced with ``source: mirror`` from A over HTTP, serves uv the same archive."""
    downstream = tmp_path / "b"
    downstream.mkdir()
    config = downstream / "mirror.yaml"
    config.write_text(
        json.dumps(
            {
                "upstream": {"source": "mirror", "url": served},
                "releases": {"latest": None},
                "select": {"prereleases": True},
                "target": {"path": "mirror"},
            }
        ),
        encoding="utf-8",
    )
    outcome = await run_sync(load_config(config))
    assert outcome.exit_code == 0
    b_root = downstream / "mirror"
    assert (b_root / pbs_archive.mirror_path).read_bytes() == pbs_archive.data
    async with serving(b_root) as b_url:
        env = {
            "UV_PYTHON_INSTALL_MIRROR": f"{b_url}/",
            "UV_PYTHON_DOWNLOADS_JSON_URL": str(b_root / "download-metadata.json"),
        }
        result = await sandbox.uv_run("python", "install", pbs_archive.version, env=env)
    assert_installed(result, pbs_archive)


# --------------------------------------------------------------------------- uv on the stick
#
# The tree carries uv (uv/<version>/uv-<triple>.tar.gz and SHA256SUMS, written by hand here as
# ``sync`` would), the archive holding the real uv binary of this environment; the machine has
# no uv: PATH is a directory of links to just the tools use-mirror.sh needs.

STICK_TOOLS: tuple[str, ...] = ("dirname", "sed", "uname", "sort", "getconf", "sha256sum")
STICK_TOOLS += ("mkdir", "rm", "gzip", "tar", "mv")
"""What use-mirror.sh runs to find, check and unpack the stick's uv (coreutils and friends)."""
OLDER_UV = "0.9.28"
"""Also on the stick: an older version a string sort would take for the newest."""


@pytest.fixture(scope="session")
def this_triple(pbs_archive: FakePbsArchive) -> str:
    """uv's triple for this machine (glibc Linux, as the fake PBS archive requires)."""
    return f"{pbs_archive.arch}-unknown-linux-gnu"


@pytest.fixture(scope="session")
def stick_uv_archives(uv_bin: Path, this_triple: str) -> dict[str, bytes]:
    """This machine's gnu and musl uv archives (both holding the real uv binary), built once."""
    musl = this_triple.replace("-gnu", "-musl")
    uvx = uv_bin.with_name("uvx")
    return {
        archive_name(t): build_uv_archive(
            t, uv_bin, uvx=uvx if uvx.is_file() else None, compresslevel=1
        )
        for t in (this_triple, musl)
    }


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

    async def use(self, *command: str, shell: str = "sh", path: str | None = None) -> Result:
        """``<shell> use-mirror.sh command…`` with this PATH, offline."""
        script = self.root / "use-mirror.sh"
        env = {"PATH": self.path if path is None else path}
        return await self.sandbox.run(find_shell(shell), script, *command, env=env, offline=True)


@pytest.fixture
def stick(
    synced: Mirror,
    sandbox: Sandbox,
    stick_uv_archives: dict[str, bytes],
    this_triple: str,
    tmp_path: Path,
) -> Stick:
    """The synced mirror with uv 0.13.9 (gnu and musl) and 0.9.28 on it; PATH has no uv."""
    for version in (UV_VERSION, OLDER_UV):
        write_uv_release(synced.root, version, stick_uv_archives)
    return Stick(
        root=synced.root, path=no_uv_path(tmp_path / "tools"), sandbox=sandbox, triple=this_triple
    )


def assert_nothing_installed(stick: Stick) -> None:
    """No Python installed and nothing unpacked (not even a directory)."""
    assert stick.sandbox.installed() == set()
    assert not stick.unpacked.parent.exists()


@pytest.mark.parametrize("shell", SHELLS)
async def test_stick_uv_installs_python_where_the_machine_has_no_uv(
    stick: Stick, pbs_archive: FakePbsArchive, shell: str
) -> None:
    """No uv on PATH: `use-mirror.sh uv python install X.Y` checks the newest uv for this machine
    (gnu on glibc), unpacks it into the user's data directory, says so, installs from the tree."""
    result = await stick.use("uv", "python", "install", "--offline", pbs_archive.minor, shell=shell)
    assert_installed(result, pbs_archive)
    assert stick.sandbox.installed() == pbs_archive.installed
    uv_dir = stick.uv_dir()  # 0.13.9, not 0.9.28: a version sort, not a string sort
    rel = f"uv/{UV_VERSION}/uv-{stick.triple}.tar.gz"
    lines = [line for line in result.output.splitlines() if line.startswith("use-mirror: ")]
    checked = f"{rel}, sha256 checked against uv/{UV_VERSION}/SHA256SUMS,"
    export = f'export PATH="{uv_dir}:$PATH"'
    assert lines == [
        f"use-mirror: uv {UV_VERSION} for {stick.triple}: {checked}",
        f"use-mirror: unpacked to {uv_dir}",
        "use-mirror: that directory is first on PATH for this command only, not for good;",
        f"use-mirror: to keep it there, add to ~/.profile (zsh: ~/.zprofile): {export}",
    ]
    assert sorted(p.name for p in uv_dir.iterdir()) == [".mirrorsync-source", "uv", "uvx"]
    sha = hashlib.sha256((stick.root / rel).read_bytes()).hexdigest()
    assert (uv_dir / ".mirrorsync-source").read_text() == f"{sha}  uv-{stick.triple}.tar.gz\n"
    assert sorted(p.name for p in stick.unpacked.rglob("*") if p.is_dir()) == [
        UV_VERSION,
        stick.triple,
    ]  # no .unpack-* left behind, nothing from 0.9.28


async def test_a_stick_synced_with_bundle_uv_serves_a_machine_without_uv(
    mirror: Mirror,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    uv_bin: Path,
    *,
    this_triple: str,
    tmp_path: Path,
) -> None:
    """End to end: `sync` with `bundle.uv` carries this machine's uv archive (the real uv inside,
    from the fake GitHub's astral-sh/uv); with no uv on PATH, use-mirror.sh installs a Python."""
    publish_uv_release(mirror.fake, UV_VERSION, [this_triple], uv=uv_bin)
    await sync_archive(mirror, pbs_archive, bundle={"uv": [UV_VERSION]})
    assert (mirror.root / "uv" / UV_VERSION / archive_name(this_triple)).is_file()
    stick = Stick(
        root=mirror.root, path=no_uv_path(tmp_path / "tools"), sandbox=sandbox, triple=this_triple
    )
    result = await stick.use("uv", "python", "install", "--offline", pbs_archive.minor)
    assert_installed(result, pbs_archive)
    assert f"use-mirror: unpacked to {stick.uv_dir()}" in result.output.splitlines()
    assert stick.sandbox.installed() == pbs_archive.installed


async def test_stick_uv_is_reused_on_the_next_run_and_redone_when_incomplete(stick: Stick) -> None:
    """A second run uses the unpacked uv as it is (no new unpack); an unpack without its
    completion mark (cut short) is never used: it is replaced by a fresh one."""
    first = await stick.use("uv", "--version")
    assert first.code == 0, first.output
    assert f"uv {UV_VERSION} (" in first.output
    uv = stick.uv_dir() / "uv"
    before = uv.stat().st_ino
    again = await stick.use("uv", "--version")
    assert again.code == 0, again.output
    assert f"use-mirror: uv {UV_VERSION} for {stick.triple}: unpacked before from " in again.output
    assert f"use-mirror: into {stick.uv_dir()}; used as it is" in again.output
    assert "sha256 checked" not in again.output
    assert uv.stat().st_ino == before
    (stick.uv_dir() / ".mirrorsync-source").unlink()
    redone = await stick.use("uv", "--version")
    assert redone.code == 0, redone.output
    assert f"use-mirror: unpacked to {stick.uv_dir()}" in redone.output
    assert uv.stat().st_ino != before


async def test_stick_uv_falls_back_to_musl_when_the_stick_has_no_gnu_build(
    stick: Stick, this_triple: str
) -> None:
    """A glibc machine whose stick has only the musl build for its CPU takes the musl one."""
    for version in (UV_VERSION, OLDER_UV):
        gnu = stick.root / "uv" / version / archive_name(this_triple)
        gnu.unlink()
    result = await stick.use("uv", "--version")
    assert result.code == 0, result.output
    musl = this_triple.replace("-gnu", "-musl")
    assert f"use-mirror: uv {UV_VERSION} for {musl}: uv/{UV_VERSION}/uv-{musl}.tar.gz" in (
        result.output
    )
    assert (stick.uv_dir(triple=musl) / "uv").is_file()


async def test_stick_uv_with_a_wrong_sha256_is_refused(
    stick: Stick, pbs_archive: FakePbsArchive
) -> None:
    """An archive that does not match its SHA256SUMS: exit 1 naming both digests, nothing
    unpacked, the command not run (no Python installed)."""
    archive = stick.root / "uv" / UV_VERSION / archive_name(stick.triple)
    data = bytearray(archive.read_bytes())
    data[GZIP_OS_BYTE] ^= 0xFF  # still a valid gzip: only the checksum can tell
    archive.write_bytes(bytes(data))
    result = await stick.use("uv", "python", "install", "--offline", pbs_archive.minor)
    assert result.code == 1, result.output
    rel = f"uv/{UV_VERSION}/uv-{stick.triple}.tar.gz"
    got = hashlib.sha256(data).hexdigest()
    expected = hashlib.sha256(
        (stick.root / "uv" / OLDER_UV / archive_name(stick.triple)).read_bytes()
    ).hexdigest()
    assert (
        f"use-mirror: {rel} is damaged: sha256 {got}, but uv/{UV_VERSION}/SHA256SUMS says "
        f"{expected}" in result.output.splitlines()
    )
    assert f"use-mirror: sh {stick.root}/verify-mirror.sh" in result.output
    assert "Installed" not in result.output
    assert_nothing_installed(stick)


async def test_a_stick_without_uv_for_this_machine_says_what_it_has(
    synced: Mirror, sandbox: Sandbox, this_triple: str, tmp_path: Path
) -> None:
    """Only macOS and Windows builds on the stick: exit 2, naming this machine's triples and
    every archive the stick has; nothing unpacked or installed."""
    others = ("aarch64-apple-darwin", "x86_64-pc-windows-msvc")
    write_uv_release(
        synced.root, UV_VERSION, {archive_name(t): build_uv_archive(t, b"uv") for t in others}
    )
    stick = Stick(
        root=synced.root, path=no_uv_path(tmp_path / "tools"), sandbox=sandbox, triple=this_triple
    )
    result = await stick.use("uv", "--version")
    assert result.code == 2, result.output
    musl = this_triple.replace("-gnu", "-musl")
    lines = result.output.splitlines()
    assert "use-mirror: no uv on PATH, and the mirror has no uv for this machine:" in lines
    assert f"use-mirror:   this machine: Linux {os.uname().machine} gnu: {this_triple} {musl}" in (
        lines
    )
    assert (
        f"use-mirror:   the mirror has: uv/{UV_VERSION}/uv-aarch64-apple-darwin.tar.gz "
        f"uv/{UV_VERSION}/uv-x86_64-pc-windows-msvc.zip" in lines
    )
    assert_nothing_installed(stick)


async def test_uv_already_on_path_leaves_the_stick_uv_alone(
    stick: Stick, pbs_archive: FakePbsArchive, uv_bin: Path, tmp_path: Path
) -> None:
    """With uv on PATH the stick's uv is not looked at (even damaged): nothing unpacked, nothing
    said, the install goes through the machine's uv."""
    archive = stick.root / "uv" / UV_VERSION / archive_name(stick.triple)
    archive.write_bytes(b"damaged")
    own = tmp_path / "own-bin"
    own.mkdir()
    (own / "uv").symlink_to(uv_bin)
    path = no_uv_path(tmp_path / "tools-and-uv", own)
    result = await stick.use("uv", "python", "install", "--offline", pbs_archive.minor, path=path)
    assert_installed(result, pbs_archive)
    assert "use-mirror:" not in result.output
    assert not stick.unpacked.parent.exists()


@pytest.mark.parametrize("shell", SHELLS)
async def test_eval_mode_puts_the_stick_uv_on_path_for_that_shell_and_says_so(
    stick: Stick, shell: str
) -> None:
    """`eval "$(sh use-mirror.sh)"` prints a PATH export of the unpacked uv besides the mirror
    variables, and says it holds for that shell only."""
    sh = find_shell(shell)
    script = stick.root / "use-mirror.sh"
    shown = await stick.sandbox.run(sh, script, env={"PATH": stick.path}, offline=True)
    assert shown.code == 0, shown.output
    quoted = f"'{stick.uv_dir()}'"
    assert f'export PATH={quoted}:"$PATH"' in shown.output.splitlines()
    assert "use-mirror: for that shell only, not for good; to keep it there, add to " in (
        shown.output
    )
    program = 'eval "$("$0" "$1")" && command -v uv && uv --version'
    ran = await stick.sandbox.run(
        sh, "-c", program, sh, script, env={"PATH": stick.path}, offline=True
    )
    assert ran.code == 0, ran.output
    assert f"{stick.uv_dir()}/uv" in ran.output.splitlines()
    assert f"uv {UV_VERSION} (" in ran.output
