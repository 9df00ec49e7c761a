"""TEST INFRASTRUCTURE: uv release archives laid out like the official ones, and fake uv releases.

``build_uv_archive(triple, uv)`` gives the bytes of ``uv-<triple>.tar.gz`` (members
``uv-<triple>/uv`` and ``uv-<triple>/uvx``, mode 0755) or, for a Windows triple,
``uv-<triple>.zip`` (``uv.exe``, ``uvx.exe`` and ``uvw.exe`` at the top, as the official zips
have them). ``uv`` is the executable's bytes or a path to it (the real ``uv`` binary of the
test environment, for tests that run what they unpack). The output is deterministic: the same
input gives the same bytes, so every upstream source serves the same archive.

``write_uv_release`` lays a version out in a mirror tree by hand, as ``sync`` does:
``<root>/uv/<version>/<archive>`` and ``<root>/uv/<version>/SHA256SUMS`` (tests of the tree's
``use-mirror.sh``, which unpacks and runs it); ``find_shell`` finds the POSIX shells it runs under.

``publish_uv_release`` puts such a release on a fake GitHub repository (``FakeGitHub.add_repo``):
each archive with its ``.sha256`` sidecar, as uv's releases carry them, plus an installer script
and a source tarball that a mirror must leave aside.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from fake_github import FakeGitHub, FakeRelease

UV_REPO = "astral-sh/uv"
UV_REPO_ID = 524574069
TRIPLES = (
    "aarch64-apple-darwin",
    "x86_64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "x86_64-pc-windows-msvc",
)
"""A few of the triples uv publishes archives for (every real release has all of these)."""
_EPOCH = (1980, 1, 1, 0, 0, 0)
_MTIME = 315532800  # 1980-01-01, the zip epoch: the same moment in both formats


def archive_name(triple: str) -> str:
    """``uv-<triple>.zip`` for Windows, ``uv-<triple>.tar.gz`` for everything else."""
    return f"uv-{triple}.zip" if "windows" in triple else f"uv-{triple}.tar.gz"


def _bytes(uv: bytes | Path) -> bytes:
    return uv.read_bytes() if isinstance(uv, Path) else uv


def build_uv_archive(
    triple: str, uv: bytes | Path, *, uvx: bytes | Path | None = None, compresslevel: int = 9
) -> bytes:
    """The archive uv publishes for ``triple``, holding ``uv`` (and ``uvx``: by default a small
    script standing in for it). ``compresslevel`` 1 makes the real uv binary (tens of MiB) an
    archive in a fraction of the time."""
    uv_data = _bytes(uv)
    uvx_data = _bytes(uvx) if uvx is not None else b'#!/bin/sh\nexec uv tool run "$@"\n'
    if "windows" in triple:
        out = io.BytesIO()
        with zipfile.ZipFile(
            out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        ) as z:
            for name, data in (("uv.exe", uv_data), ("uvx.exe", uvx_data), ("uvw.exe", uv_data)):
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                info.external_attr = 0o755 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
        return out.getvalue()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        top = f"uv-{triple}"
        directory = tarfile.TarInfo(top)
        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, _MTIME
        tar.addfile(directory)
        for name, data in (("uv", uv_data), ("uvx", uvx_data)):
            member = tarfile.TarInfo(f"{top}/{name}")
            member.size, member.mode, member.mtime = len(data), 0o755, _MTIME
            tar.addfile(member, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=compresslevel, mtime=0)


def uv_archives(
    version: str, triples: Iterable[str] = TRIPLES, *, uv: bytes | Path | None = None
) -> dict[str, bytes]:
    """``{archive name: bytes}`` for these triples; by default each ``uv`` is a small script
    naming the version and triple (distinct bytes per archive)."""
    return {
        archive_name(t): build_uv_archive(
            t, uv if uv is not None else f"#!/bin/sh\necho uv {version} {t}\n".encode()
        )
        for t in triples
    }


def uv_repo(fake: FakeGitHub) -> FakeGitHub:
    """The fake's ``astral-sh/uv`` (added on first use), its sidecars in uv's own form."""
    if (added := fake.added_repo(UV_REPO)) is not None:
        return added
    repo = fake.add_repo(UV_REPO, repo_id=UV_REPO_ID)
    repo.sidecar_names = True
    return repo


def publish_uv_release(
    fake: FakeGitHub,
    version: str,
    triples: Iterable[str] = TRIPLES,
    *,
    uv: bytes | Path | None = None,
    prerelease: bool = False,
    digest: bool = False,
) -> FakeRelease:
    """A uv release on ``fake``'s ``astral-sh/uv``: the archives with sidecars (and the API
    digest too with ``digest``), an installer and a source tarball besides."""
    files = uv_archives(version, triples, uv=uv)
    files["uv-installer.sh"] = b"#!/bin/sh\necho install\n"
    files["source.tar.gz"] = b"not an archive of uv"
    release = uv_repo(fake).add_release(version, files, checksums="sidecars", prerelease=prerelease)
    # Installers and source tarballs get no sidecar in uv's releases; the fake gave them one.
    for name in ("uv-installer.sh", "source.tar.gz"):
        release.assets.pop(name + ".sha256", None)
    if digest:
        for asset in release.assets.values():
            asset.with_digest = True
    return release


def sha256sums(files: Mapping[str, bytes]) -> bytes:
    """A ``SHA256SUMS`` (sha256sum's format: ``<hex>  <name>``) for ``files``, sorted by name."""
    lines = (
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    )
    return "".join(lines).encode("ascii")


def write_uv_release(
    root: Path, version: str, archives: Mapping[str, bytes], *, sums: bytes | None = None
) -> Path:
    """Write ``archives`` (name -> bytes) and their SHA256SUMS (or ``sums`` as given) below
    ``root/uv/<version>/``, as a sync with ``bundle.uv`` lays them out; returns that directory."""
    where = root / "uv" / version
    where.mkdir(parents=True, exist_ok=True)
    for name, data in archives.items():
        (where / name).write_bytes(data)
    (where / "SHA256SUMS").write_bytes(sha256sums(archives) if sums is None else sums)
    return where


SHELLS = ("sh", "dash", "bash")
"""The POSIX shells ``use-mirror.sh`` is run under: ``sh``, and ``dash`` and ``bash`` by name."""


def find_shell(name: str) -> str:
    """The path of shell ``name``; a missing one skips the test with the reason, except under
    ``CI=true`` where it fails (CI runs on Debian, whose ``sh`` is dash and which has bash)."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {name} is not installed: the offline scripts must run there")
        pytest.skip(f"{name} is not installed here")
    return found
