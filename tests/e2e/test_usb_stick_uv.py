"""A stick prepared on a real exFAT file system carries uv to a machine without uv (issue 13).

``mirrorsync sync`` with ``bundle.uv`` fills a freshly formatted exFAT image (loop device, FUSE:
``testkit/mounts.py``) from the fake GitHub: the fake PBS archive of the running CPython and a uv
release whose archive holds the real ``uv`` binary of the test environment, published with its
``.sha256`` sidecar. Then, from a PATH without uv and in a sandbox that cannot leave loopback
(``testkit/uv_sandbox.py``), ``sh use-mirror.sh`` on the mount installs a Python with the stick's
uv, and refuses the stick once a byte of its uv archive has flipped. Without root, the tools or
``/dev/fuse`` the tests skip; under CI=true they fail.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import pytest_asyncio
from mirror_harness import Mirror
from mounts import Stick as UsbStick
from pbs_fixture import FakePbsArchive, unsupported_reason
from uv_fixture import archive_name, find_shell, publish_uv_release
from uv_sandbox import (
    GZIP_OS_BYTE,
    UV_VERSION,
    Result,
    Sandbox,
    Stick,
    assert_installed,
    assert_nothing_installed,
    no_uv_path,
    sync_archive,
)

pytestmark = pytest.mark.e2e

if (_UNSUPPORTED := unsupported_reason()) is not None:
    pytest.skip(_UNSUPPORTED, allow_module_level=True)


@pytest_asyncio.fixture
async def uv_stick(
    mirror: Mirror,
    exfat_stick: UsbStick,
    sandbox: Sandbox,
    pbs_archive: FakePbsArchive,
    uv_bin: Path,
    *,
    this_triple: str,
    tmp_path: Path,
) -> Stick:
    """The exFAT stick after ``sync`` with ``bundle.uv: [0.13.9]`` from the fake GitHub (this
    machine's uv archive, the real uv inside, with its sidecar); a PATH without uv."""
    publish_uv_release(mirror.fake, UV_VERSION, [this_triple], uv=uv_bin, compresslevel=1)
    await sync_archive(mirror, pbs_archive, bundle={"uv": [UV_VERSION]})
    where = mirror.root / "uv" / UV_VERSION
    names = sorted(p.name for p in where.iterdir())
    assert names == ["SHA256SUMS", "index.html", archive_name(this_triple)]
    assert exfat_stick.kind == "exfat"
    return Stick(
        root=mirror.root, path=no_uv_path(tmp_path / "tools"), sandbox=sandbox, triple=this_triple
    )


def uv_archive(stick: Stick) -> Path:
    return stick.root / "uv" / UV_VERSION / archive_name(stick.triple)


async def verify_mirror(stick: Stick) -> Result:
    """The stick's ``verify-mirror.sh`` run with ``sh`` from the machine without uv."""
    script = stick.root / "verify-mirror.sh"
    return await stick.sandbox.run(
        find_shell("sh"), script, env={"PATH": stick.path}, offline=True, cwd=stick.root
    )


CLEAN = "verify-mirror: 2 file(s) in 1 release(s) and 1 uv version(s) checked, 0 problem(s)"


async def test_the_stick_uv_installs_a_python_from_the_exfat_stick(
    uv_stick: Stick, pbs_archive: FakePbsArchive
) -> None:
    """verify-mirror.sh passes on the stick; with no uv on PATH, `sh use-mirror.sh uv python
    install X.Y.Z` run from the mount checks and unpacks the stick's uv, installs the Python from
    the stick, and that Python runs."""
    clean = await verify_mirror(uv_stick)
    assert clean.code == 0, clean.output
    assert clean.output.splitlines() == [CLEAN]

    v = pbs_archive.version
    result = await uv_stick.use("uv", "python", "install", v, cwd=uv_stick.root)
    assert_installed(result, pbs_archive)
    rel = f"uv/{UV_VERSION}/{archive_name(uv_stick.triple)}"
    lines = result.output.splitlines()
    assert (
        f"use-mirror: uv {UV_VERSION} for {uv_stick.triple}: {rel}, sha256 checked against "
        f"uv/{UV_VERSION}/SHA256SUMS," in lines
    )
    assert f"use-mirror: unpacked to {uv_stick.uv_dir()}" in lines
    assert uv_stick.sandbox.installed() == pbs_archive.installed

    script = "import ssl, sys; print(sys.version); print(sys.base_prefix)"
    command = ("uv", "run", "--offline", "--no-project", "--managed-python", "--python", v)
    ran = await uv_stick.use(*command, "python", "-c", script, cwd=uv_stick.root)
    assert ran.code == 0, ran.output
    assert f"into {uv_stick.uv_dir()}; used as it is" in ran.output  # not unpacked again
    version, base_prefix = ran.output.strip().splitlines()[-2:]
    assert version.startswith(f"{v} ")
    assert Path(base_prefix).is_relative_to(uv_stick.sandbox.install_dir)


async def test_a_flipped_byte_in_the_stick_uv_is_refused_and_named_by_verify_mirror(
    uv_stick: Stick, pbs_archive: FakePbsArchive
) -> None:
    """One byte of the uv archive flips on the stick (still a valid gzip): verify-mirror.sh,
    clean before, names the archive; use-mirror.sh refuses it (exit 1, both digests), unpacks
    nothing and installs no Python."""
    clean = await verify_mirror(uv_stick)
    assert clean.code == 0, clean.output
    archive = uv_archive(uv_stick)
    expected = hashlib.sha256(archive.read_bytes()).hexdigest()
    data = bytearray(archive.read_bytes())
    data[GZIP_OS_BYTE] ^= 0xFF
    archive.write_bytes(bytes(data))
    got = hashlib.sha256(data).hexdigest()
    rel = f"uv/{UV_VERSION}/{archive_name(uv_stick.triple)}"

    broken = await verify_mirror(uv_stick)
    assert broken.code == 1, broken.output
    assert broken.output.splitlines() == [
        f"FAILED  {rel} (sha256 {got}, expected {expected})",
        CLEAN.replace("0 problem(s)", "1 problem(s)"),
    ]

    result = await uv_stick.use("uv", "python", "install", pbs_archive.version, cwd=uv_stick.root)
    assert result.code == 1, result.output
    assert (
        f"use-mirror: {rel} is damaged: sha256 {got}, but uv/{UV_VERSION}/SHA256SUMS says "
        f"{expected}" in result.output.splitlines()
    )
    assert "Installed" not in result.output
    assert_nothing_installed(uv_stick)
