"""The offline scripts' choice of the stick's uv: the table, its shell rendering, the .ps1 steps,
and verify-mirror covering ``uv/<version>/``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from uv_fixture import (
    SHELLS,
    archive_name,
    build_uv_archive,
    find_shell,
    sha256sums,
    write_uv_release,
)

from mirrorsync.core.uvbundle import parse_uv_archive
from mirrorsync.publish import scripts
from mirrorsync.publish.scripts import (
    LINUX_ARCHES,
    SH_UV_TRIPLES,
    USE_MIRROR_PS1,
    USE_MIRROR_SH,
    VERIFY_MIRROR_SH,
    WINDOWS_ARCHES,
    uv_triples,
)

UV_PLATFORMS = frozenset(
    {
        "aarch64-apple-darwin",
        "aarch64-pc-windows-msvc",
        "aarch64-unknown-linux-gnu",
        "aarch64-unknown-linux-musl",
        "arm-unknown-linux-musleabihf",
        "armv7-unknown-linux-gnueabihf",
        "armv7-unknown-linux-musleabihf",
        "i686-pc-windows-msvc",
        "i686-unknown-linux-gnu",
        "i686-unknown-linux-musl",
        "powerpc64-unknown-linux-gnu",
        "powerpc64le-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "x86_64-pc-windows-msvc",
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
    }
)
"""The platforms of uv 0.9.28 in Astral's index (``v1/uv.ndjson``): what uv publishes."""

TRIPLES = [
    # glibc: gnu first, the static musl build as the fallback
    ("Linux", "x86_64", "gnu", ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl")),
    ("Linux", "amd64", "gnu", ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl")),
    ("Linux", "aarch64", "gnu", ("aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl")),
    ("Linux", "arm64", "gnu", ("aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl")),
    (
        "Linux",
        "armv7l",
        "gnu",
        ("armv7-unknown-linux-gnueabihf", "armv7-unknown-linux-musleabihf"),
    ),
    ("Linux", "armv6l", "gnu", ("arm-unknown-linux-gnueabihf", "arm-unknown-linux-musleabihf")),
    ("Linux", "i686", "gnu", ("i686-unknown-linux-gnu", "i686-unknown-linux-musl")),
    ("Linux", "i386", "gnu", ("i686-unknown-linux-gnu", "i686-unknown-linux-musl")),
    (
        "Linux",
        "ppc64le",
        "gnu",
        ("powerpc64le-unknown-linux-gnu", "powerpc64le-unknown-linux-musl"),
    ),
    ("Linux", "s390x", "gnu", ("s390x-unknown-linux-gnu", "s390x-unknown-linux-musl")),
    ("Linux", "riscv64", "gnu", ("riscv64gc-unknown-linux-gnu", "riscv64gc-unknown-linux-musl")),
    # musl machines (Alpine): musl only
    ("Linux", "x86_64", "musl", ("x86_64-unknown-linux-musl",)),
    ("Linux", "armv7l", "musl", ("armv7-unknown-linux-musleabihf",)),
    # libc unknown: musl, which runs on any Linux, before gnu
    ("Linux", "aarch64", "unknown", ("aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu")),
    ("Linux", "mips", "gnu", ()),
    ("Darwin", "arm64", "", ("aarch64-apple-darwin",)),
    ("Darwin", "x86_64", "", ("x86_64-apple-darwin",)),
    ("Darwin", "ppc", "", ()),
    ("FreeBSD", "amd64", "", ()),
    ("Windows", "AMD64", "", ("x86_64-pc-windows-msvc", "i686-pc-windows-msvc")),
    (
        "Windows",
        "ARM64",
        "",
        ("aarch64-pc-windows-msvc", "x86_64-pc-windows-msvc", "i686-pc-windows-msvc"),
    ),
    ("Windows", "x86", "", ("i686-pc-windows-msvc",)),
    ("Windows", "IA64", "", ()),
]


@pytest.mark.parametrize(("system", "machine", "libc", "expected"), TRIPLES)
def test_uv_triples_table(system: str, machine: str, libc: str, expected: tuple[str, ...]) -> None:
    """The uv builds for a machine, best first: gnu then musl on glibc, musl only on musl."""
    assert uv_triples(system, machine, libc) == expected


@pytest.mark.parametrize("shell", SHELLS)
def test_the_shell_function_answers_like_the_table(shell: str) -> None:
    """use-mirror.sh's uv_triples (rendered from the table) gives the same answer for every row."""
    assert SH_UV_TRIPLES in USE_MIRROR_SH
    rows = [(s, m, libc or "unknown") for s, m, libc, _ in TRIPLES]
    rows += [("Linux", m, libc) for m in LINUX_ARCHES for libc in ("gnu", "musl", "unknown")]
    program = SH_UV_TRIPLES + 'while read -r s m l; do echo "$(uv_triples "$s" "$m" "$l")"; done\n'
    done = subprocess.run(  # noqa: S603 - the script's own function, our input
        [find_shell(shell), "-c", program],
        input="".join(f"{s} {m} {libc}\n" for s, m, libc in rows),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    got = [tuple(line.split()) for line in done.stdout.splitlines()]
    expected = [uv_triples(s, m, libc) if s != "Windows" else () for s, m, libc in rows]
    assert got == expected


def test_every_known_machine_has_a_published_uv() -> None:
    """Each CPU in the tables maps to at least one platform uv really publishes (no typo'd
    triple that would never be found on a stick)."""
    for machine in LINUX_ARCHES:
        assert set(uv_triples("Linux", machine, "gnu")) & UV_PLATFORMS, machine
    for machine in WINDOWS_ARCHES:
        assert set(uv_triples("Windows", machine)) <= UV_PLATFORMS
    assert {uv_triples("Darwin", m)[0] for m in ("arm64", "x86_64")} <= UV_PLATFORMS


def test_the_scripts_look_for_the_names_sync_writes() -> None:
    """The archive each script looks for (``uv-<triple>.tar.gz``; ``.zip`` on Windows) is the
    name sync keeps for that platform under ``uv/<version>/``."""
    for system, machine, libc, triples in TRIPLES:
        for triple in triples:
            ext = "zip" if system == "Windows" else "tar.gz"
            parsed = parse_uv_archive(f"uv-{triple}.{ext}", version="0.13.9")
            assert parsed is not None, (system, machine, libc, triple)
            assert (parsed.platform, parsed.ext) == (triple, ext)
            assert archive_name(triple) == f"uv-{triple}.{ext}"
    assert '"$here/uv/$version/uv-$triple.tar.gz"' in USE_MIRROR_SH
    assert '$pick = "uv-$triple.zip"' in USE_MIRROR_PS1


def test_use_mirror_ps1_makes_each_step_of_the_sh_script() -> None:
    """PowerShell is not on this machine: the .ps1 is checked for each step use-mirror.sh makes
    (only without uv on PATH, the CPU, newest version first, the sha256 from SHA256SUMS, refusal,
    reuse, unpack beside then rename, PATH for the session only, said)."""
    for step in (
        "Get-Command uv -ErrorAction SilentlyContinue",
        "(Test-Path -LiteralPath $uvRoot -PathType Container)",
        "$env:PROCESSOR_ARCHITEW6432",
        (
            "@{ 'AMD64' = @('x86_64', 'i686'); 'ARM64' = @('aarch64', 'x86_64', 'i686'); "
            "'x86' = @('i686') }"
        ),
        "if ($cpu -and $arches.ContainsKey($cpu))",
        '"$_-pc-windows-msvc"',
        "Sort-Object { [version]$_.Name } -Descending",
        '$pick = "uv-$triple.zip"',
        "the mirror has no uv for this machine",
        "$want, $name = $line -split ' ', 2",
        "is not listed in $sums",
        'Join-Path $env:LOCALAPPDATA "mirrorsync\\uv\\$($version.Name)\\$triple"',
        "'.mirrorsync-source'",
        '-eq "$expected  $pick"',
        "used as it is",
        "Get-FileHash -LiteralPath $zip -Algorithm SHA256 -ErrorAction Stop",
        "is damaged: sha256 $got, but $sums says $expected",
        '".unpack-$triple.$PID"',
        "Expand-Archive -LiteralPath $zip -DestinationPath $tmp -ErrorAction Stop",
        "-Filter 'uv.exe' -Recurse",
        "Move-Item -LiteralPath $exe.DirectoryName -Destination $uvDir",
        '$env:PATH = "$uvDir;$env:PATH"',
        "in this PowerShell session only",
        "not for good",
        "$env:UV_PYTHON_INSTALL_MIRROR = ",
    ):
        assert step in USE_MIRROR_PS1, step
    # the uv step comes first: a refusal leaves the session as it was
    assert USE_MIRROR_PS1.index("Get-Command uv") < USE_MIRROR_PS1.index(
        "$env:UV_PYTHON_INSTALL_MIRROR = "
    )
    for colon in ("$triple:", "$cpu:"):  # "$x:" is a scope-qualified name in PowerShell
        assert colon not in USE_MIRROR_PS1


def test_verify_mirror_ps1_covers_uv_versions() -> None:
    """verify-mirror.ps1 also walks uv\\<version>\\SHA256SUMS and counts uv versions apart."""
    ps1 = scripts.VERIFY_MIRROR_PS1
    assert "$uvRoot = Join-Path $root 'uv'" in ps1
    assert "$dirs += @(Get-ChildItem -LiteralPath $uvRoot -Directory)" in ps1
    assert '{ "uv/$($dir.Name)" }' in ps1
    assert '" and $uvs uv version(s)"' in ps1


@pytest.mark.parametrize("shell", SHELLS)
def test_verify_mirror_sh_checks_the_stick_uv(tmp_path: Path, shell: str) -> None:
    """verify-mirror.sh hashes uv/<version>/ like a release: clean counts it, a flipped byte is
    one FAILED line naming uv/<version>/<archive>, exit 1."""
    release = tmp_path / "20251217"
    release.mkdir()
    (release / "a.tar.gz").write_bytes(b"archive")
    (release / "SHA256SUMS").write_bytes(sha256sums({"a.tar.gz": b"archive"}))
    triple = "x86_64-unknown-linux-gnu"
    name = archive_name(triple)
    where = write_uv_release(tmp_path, "0.13.9", {name: build_uv_archive(triple, b"uv")})
    (tmp_path / "verify-mirror.sh").write_text(VERIFY_MIRROR_SH, encoding="utf-8")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the script we render
            [find_shell(shell), str(tmp_path / "verify-mirror.sh")],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.splitlines() == [
        "verify-mirror: 2 file(s) in 1 release(s) and 1 uv version(s) checked, 0 problem(s)"
    ]
    data = bytearray((where / name).read_bytes())
    data[-1] ^= 0x01
    (where / name).write_bytes(bytes(data))
    broken = run()
    assert broken.returncode == 1
    assert broken.stdout.splitlines()[0].startswith(f"FAILED  uv/0.13.9/{name} (sha256 ")
    assert broken.stdout.splitlines()[1].endswith(", 1 problem(s)")
