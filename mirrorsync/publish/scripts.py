"""Files that make a copied tree (a USB stick, a network share) usable wherever it is mounted.

Pure renderers of the offline scripts and ``README.txt``. ``use-mirror.sh`` and ``use-mirror.ps1``
also carry the stick's uv to a machine that has none: the tree's
``uv/<version>/uv-<triple>.tar.gz`` (``.zip`` on Windows) is picked for the machine, checked
against ``uv/<version>/SHA256SUMS``, unpacked into the user's own directory and put on ``PATH``
for the command (or the session) only. Which uv builds fit a machine is decided once here
(:func:`uv_triples`, from the tables below) and rendered into both scripts.
"""

from __future__ import annotations

import textwrap

from mirrorsync.core import layout as paths

UV_SOURCE_MARK = ".mirrorsync-source"
"""In an unpacked uv directory, written last: ``<sha256>  <archive name>`` it was unpacked from.
A directory without it (an unpack cut short) is never used."""

LINUX_ARCHES: dict[str, tuple[str, str]] = {
    "x86_64": ("x86_64", ""),
    "amd64": ("x86_64", ""),
    "aarch64": ("aarch64", ""),
    "arm64": ("aarch64", ""),
    "armv7l": ("armv7", "eabihf"),
    "armv8l": ("armv7", "eabihf"),  # a 32-bit userland on a 64-bit ARM kernel
    "armv6l": ("arm", "eabihf"),
    "i386": ("i686", ""),
    "i486": ("i686", ""),
    "i586": ("i686", ""),
    "i686": ("i686", ""),
    "ppc64le": ("powerpc64le", ""),
    "ppc64": ("powerpc64", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64gc", ""),
}
"""``uname -m`` on Linux -> (uv's CPU, the ABI suffix after ``gnu``/``musl``)."""
DARWIN_ARCHES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
"""``uname -m`` on macOS -> uv's CPU (``<cpu>-apple-darwin``)."""
WINDOWS_ARCHES: dict[str, tuple[str, ...]] = {
    "AMD64": ("x86_64", "i686"),
    "ARM64": ("aarch64", "x86_64", "i686"),
    "x86": ("i686",),
}
"""``PROCESSOR_ARCHITECTURE`` -> uv's CPUs that run there, best first (Windows runs x86 builds
on x64, and x64 and x86 builds on ARM64, through its emulation)."""
LIBCS = ("gnu", "musl")
"""What ``use-mirror.sh`` finds a Linux machine's C library to be; anything else is unknown."""


def uv_triples(system: str, machine: str, libc: str = "") -> tuple[str, ...]:
    """The uv builds that run on a machine, best first; empty when none is known.

    ``system`` is ``uname -s`` (``Linux``, ``Darwin``) or ``Windows``; ``machine`` is ``uname -m``
    (``PROCESSOR_ARCHITECTURE`` on Windows); ``libc`` (Linux) is ``gnu``, ``musl`` or unknown.
    glibc machines prefer the gnu build and fall back to the static musl one; musl machines take
    musl only; when the C library is unknown the musl build, which runs on any Linux, comes first.
    """
    if system == "Linux" and machine in LINUX_ARCHES:
        cpu, abi = LINUX_ARCHES[machine]
        gnu, musl = (f"{cpu}-unknown-linux-{lib}{abi}" for lib in LIBCS)
        return {"gnu": (gnu, musl), "musl": (musl,)}.get(libc, (musl, gnu))
    if system == "Darwin" and machine in DARWIN_ARCHES:
        return (f"{DARWIN_ARCHES[machine]}-apple-darwin",)
    if system == "Windows":
        return tuple(f"{cpu}-pc-windows-msvc" for cpu in WINDOWS_ARCHES.get(machine, ()))
    return ()


def _sh_cases(table: dict[str, str]) -> str:
    """``case`` arms grouping the ``uname -m`` values that share an action."""
    by_action: dict[str, list[str]] = {}
    for machine, action in table.items():
        by_action.setdefault(action, []).append(machine)
    return "".join(f"    {' | '.join(ms)}) {action} ;;\n" for action, ms in by_action.items())


def _render_sh_uv_triples() -> str:
    linux = {m: f"cpu={cpu} abi={abi}" for m, (cpu, abi) in LINUX_ARCHES.items()}
    darwin = {m: f"echo {cpu}-apple-darwin" for m, cpu in DARWIN_ARCHES.items()}
    return (
        "uv_triples() {\n"
        "    # $1 uname -s, $2 uname -m, $3 gnu/musl/unknown: the uv builds that run here, best\n"
        "    # first, on one line (nothing when none is known); uv_triples in publish/scripts.py\n"
        "    case $1 in\n"
        "    Linux) ;;\n"
        "    Darwin)\n"
        "        case $2 in\n"
        f"{textwrap.indent(_sh_cases(darwin), '    ')}"
        "        esac\n"
        "        return 0 ;;\n"
        "    *) return 0 ;;\n"
        "    esac\n"
        "    case $2 in\n"
        f"{_sh_cases(linux)}"
        "    *) return 0 ;;\n"
        "    esac\n"
        "    case $3 in\n"
        '    gnu) echo "$cpu-unknown-linux-gnu$abi $cpu-unknown-linux-musl$abi" ;;\n'
        '    musl) echo "$cpu-unknown-linux-musl$abi" ;;\n'
        '    *) echo "$cpu-unknown-linux-musl$abi $cpu-unknown-linux-gnu$abi" ;;\n'
        "    esac\n"
        "}\n"
    )


SH_UV_TRIPLES = _render_sh_uv_triples()
"""The shell function ``uv_triples`` inside ``use-mirror.sh`` (tests run it on its own)."""


def _sh_sha_tool(prog: str) -> str:
    """Defines ``sha FILE`` (its sha256, first word) with sha256sum or shasum -a 256; exits 2
    naming ``prog`` when neither is installed."""
    return (
        "if command -v sha256sum >/dev/null 2>&1; then\n"
        '    sha() { sha256sum < "$1"; }\n'
        "elif command -v shasum >/dev/null 2>&1; then\n"
        '    sha() { shasum -a 256 < "$1"; }\n'
        "else\n"
        f'    echo "{prog}: neither sha256sum nor shasum is installed" >&2\n'
        "    exit 2\n"
        "fi\n"
    )


def _sh_sums_entry(var: str) -> str:
    """Sets ``name`` and ``want`` from a sha256sum line held in ``$var`` (``*`` = binary mode)."""
    return f"want=${{{var}%% *}}\nname=${{{var}#* }}\nname=${{name# }}\nname=${{name#\\*}}\n"


def _ps1_arch_table() -> str:
    """``WINDOWS_ARCHES`` as a PowerShell hashtable literal."""
    rows = []
    for machine, cpus in WINDOWS_ARCHES.items():
        quoted = ", ".join(f"'{cpu}'" for cpu in cpus)
        rows.append(f"'{machine}' = @({quoted})")
    return "@{ " + "; ".join(rows) + " }"


_USE_MIRROR_SH = r"""#!/bin/sh
# Use this python-build-standalone mirror from wherever it is mounted (written by mirrorsync).
#
#   sh /path/to/mirror/use-mirror.sh uv python install 3.13   # run one command with the mirror
#   eval "$(sh /path/to/mirror/use-mirror.sh)"               # or set it in the current shell
#
# It sets UV_PYTHON_INSTALL_MIRROR and UV_PYTHON_DOWNLOADS_JSON_URL to file:// URLs of this
# directory, computed from the script's own location. POSIX sh; no network needed.
#
# uv on the stick: when no uv is on PATH and the mirror carries uv (uv/<version>/SHA256SUMS and
# uv/<version>/uv-<triple>.tar.gz), the newest uv built for this machine is checked against that
# SHA256SUMS, unpacked once into ${XDG_DATA_HOME:-$HOME/.local/share}/mirrorsync/uv/<version>/
# <triple>/ and put first on PATH for the command only (with eval: for that shell only), never
# for good. What it did goes to stderr. A damaged archive (exit 1) or no uv for this machine
# (exit 2) is refused, and the command is not run.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P)
# file:// URLs: percent-encode what a path may hold but a URL may not. A raw backslash would be
# read as "/" (file: is a WHATWG special scheme), so it is encoded too.
url=$(printf '%s' "$here" | sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's/#/%23/g' -e 's/?/%3F/g' \
    -e 's/"/%22/g' -e "s/'/%27/g" -e 's/\\/%5C/g')
UV_PYTHON_INSTALL_MIRROR="file://$url"
export UV_PYTHON_INSTALL_MIRROR
if [ -f "$here/download-metadata.json" ]; then
    UV_PYTHON_DOWNLOADS_JSON_URL="file://$url/download-metadata.json"
    export UV_PYTHON_DOWNLOADS_JSON_URL
fi

say() {
    printf 'use-mirror: %s\n' "$*" >&2
}

@UV_TRIPLES@
machine_libc() {
    # gnu (glibc), musl, or unknown: the C library a Linux uv build must be linked against
    if getconf GNU_LIBC_VERSION >/dev/null 2>&1; then
        echo gnu
        return 0
    fi
    case $(ldd --version 2>&1 || :) in
    *musl*) echo musl ;;
    *GLIBC* | *"GNU libc"* | *"GNU C Library"*) echo gnu ;;
    *)
        for loader in /lib/ld-musl-*; do
            if [ -e "$loader" ]; then
                echo musl
                return 0
            fi
        done
        echo unknown ;;
    esac
}

stick_versions() {
    # the uv versions on the mirror that have a SHA256SUMS, newest first
    for list in "$here/@UV_DIR@"/*/SHA256SUMS; do
        if [ -f "$list" ]; then
            version=${list%/SHA256SUMS}
            version=${version##*/}
            case $version in
            '' | *[!0-9A-Za-z.+-]*) ;;
            *) echo "$version" ;;
            esac
        fi
    done | sort -t . -k 1,1nr -k 2,2nr -k 3,3nr
}

stick_uv() {
    # sets uvdir: the stick's uv for this machine, checked and unpacked (or refuses and exits)
    system=$(uname -s)
    machine=$(uname -m)
    libc=
    if [ "$system" = Linux ]; then
        libc=$(machine_libc)
    fi
    wanted=$(uv_triples "$system" "$machine" "$libc")
    pick=
    for version in $(stick_versions); do
        for triple in $wanted; do
            if [ -f "$here/@UV_DIR@/$version/uv-$triple.tar.gz" ]; then
                pick=uv-$triple.tar.gz
                break 2
            fi
        done
    done
    if [ -z "$pick" ]; then
        have=
        for found in "$here/@UV_DIR@"/*/uv-*; do
            if [ -f "$found" ]; then
                have="$have ${found#"$here"/}"
            fi
        done
        say "no uv on PATH, and the mirror has no uv for this machine:"
        say "  this machine: $system $machine${libc:+ $libc}: ${wanted:-no uv build known}"
        say "  the mirror has:${have:- nothing}"
        say "install uv on this machine (this script then uses it), or carry uv for it on the"
        say "mirror; the command was not run"
        exit 2
    fi
    rel=@UV_DIR@/$version/$pick
    sums=@UV_DIR@/$version/SHA256SUMS
    expected=
    while IFS= read -r line || [ -n "$line" ]; do
@SUMS_ENTRY@
        if [ "$name" = "$pick" ]; then
            expected=$want
        fi
    done < "$here/$sums"
    if [ -z "$expected" ]; then
        say "$rel is not listed in $sums, so it cannot be checked: not used"
        exit 2
    fi
    data=${XDG_DATA_HOME:-}
    if [ -z "$data" ]; then
        if [ -z "${HOME:-}" ]; then
            say "neither XDG_DATA_HOME nor HOME is set: nowhere to unpack $rel"
            exit 2
        fi
        data=$HOME/.local/share
    fi
    uvdir=$data/mirrorsync/uv/$version/$triple
    seen=
    if [ -f "$uvdir/@MARK@" ]; then
        IFS= read -r seen < "$uvdir/@MARK@" || :
    fi
    if [ -x "$uvdir/uv" ] && [ "$seen" = "$expected  $pick" ]; then
        say "uv $version for $triple: unpacked before from $rel (sha256 $expected)"
        say "into $uvdir; used as it is"
        return 0
    fi
@SHA_TOOL@
    got=$(sha "$here/$rel") || got=unreadable
    got=${got%% *}
    if [ "$got" != "$expected" ]; then
        say "$rel is damaged: sha256 $got, but $sums says $expected"
        say "not used, nothing unpacked, the command was not run; check the mirror with"
        say "sh $here/verify-mirror.sh"
        exit 1
    fi
    # Unpack beside the final directory, then rename: a half-unpacked uv is never used.
    parent=${uvdir%/*}
    tmp=$parent/.unpack-$triple.$$
    if ! mkdir -p "$parent" || ! rm -rf "$tmp" || ! mkdir "$tmp"; then
        say "cannot create $tmp to unpack $rel into"
        exit 2
    fi
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if ! (cd "$tmp" && gzip -dc | tar -xf -) < "$here/$rel"; then
        say "cannot unpack $rel into $tmp; nothing unpacked"
        exit 2
    fi
    bin=$tmp/uv-$triple
    if [ ! -x "$bin/uv" ]; then
        bin=$tmp
    fi
    if [ ! -x "$bin/uv" ]; then
        say "$rel holds no uv-$triple/uv; not used"
        exit 2
    fi
    printf '%s\n' "$expected  $pick" > "$bin/@MARK@"
    rm -rf "$uvdir"
    mv "$bin" "$uvdir"
    rm -rf "$tmp"
    trap - EXIT INT TERM
    say "uv $version for $triple: $rel, sha256 checked against $sums,"
    say "unpacked to $uvdir"
}

quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

uvdir=
if [ -d "$here/@UV_DIR@" ] && ! command -v uv >/dev/null 2>&1; then
    stick_uv
    PATH=$uvdir:$PATH
    export PATH
fi
keep="to keep it there, add to ~/.profile (zsh: ~/.zprofile): export PATH=\"$uvdir:\$PATH\""
if [ "$#" -gt 0 ]; then
    if [ -n "$uvdir" ]; then
        say "that directory is first on PATH for this command only, not for good;"
        say "$keep"
    fi
    exec "$@"
fi
printf "export UV_PYTHON_INSTALL_MIRROR='%s'\n" "$UV_PYTHON_INSTALL_MIRROR"
if [ -n "${UV_PYTHON_DOWNLOADS_JSON_URL:-}" ]; then
    printf "export UV_PYTHON_DOWNLOADS_JSON_URL='%s'\n" "$UV_PYTHON_DOWNLOADS_JSON_URL"
fi
if [ -n "$uvdir" ]; then
    printf 'export PATH=%s:"$PATH"\n' "$(quote "$uvdir")"
    say "the export PATH line puts that directory first on PATH in the shell that evals it,"
    say "for that shell only, not for good; $keep"
fi
"""

USE_MIRROR_SH = (
    _USE_MIRROR_SH.replace("@UV_TRIPLES@", SH_UV_TRIPLES)
    .replace("@SUMS_ENTRY@", textwrap.indent(_sh_sums_entry("line"), " " * 8))
    .replace("@SHA_TOOL@", textwrap.indent(_sh_sha_tool("use-mirror"), " " * 4).rstrip("\n"))
    .replace("@UV_DIR@", paths.UV_DIR)
    .replace("@MARK@", UV_SOURCE_MARK)
)

_USE_MIRROR_PS1 = r"""# Use this python-build-standalone mirror from wherever it is mounted
# (written by mirrorsync).
#
#   . E:\mirror\use-mirror.ps1          # dot-source it: sets the variables in this session
#   uv python install 3.13
#
# Sets UV_PYTHON_INSTALL_MIRROR and UV_PYTHON_DOWNLOADS_JSON_URL to file:// URLs of this
# directory, computed from the script's own location.
#
# uv on the stick: when no uv is on PATH and the mirror carries uv (uv\<version>\SHA256SUMS and
# uv\<version>\uv-<triple>.zip), the newest uv built for this machine is checked against that
# SHA256SUMS (Get-FileHash), unpacked once into $env:LOCALAPPDATA\mirrorsync\uv\<version>\<triple>
# and put first on PATH for this session only, never for good; it says what it did. A damaged
# archive, or no uv for this machine, is refused and nothing is set. The steps of use-mirror.sh.
$root = $PSScriptRoot
$uvRoot = Join-Path $root '@UV_DIR@'
if (-not (Get-Command uv -ErrorAction SilentlyContinue) -and
    (Test-Path -LiteralPath $uvRoot -PathType Container)) {
    $cpu = $env:PROCESSOR_ARCHITECTURE
    if ($env:PROCESSOR_ARCHITEW6432) { $cpu = $env:PROCESSOR_ARCHITEW6432 }  # 32-bit PowerShell
    $arches = @ARCHES@
    $triples = @()
    if ($cpu -and $arches.ContainsKey($cpu)) {
        $triples = @($arches[$cpu] | ForEach-Object { "$_-pc-windows-msvc" })
    }
    $versions = Get-ChildItem -LiteralPath $uvRoot -Directory |
        Where-Object { $_.Name -match '^\d+(\.\d+){1,3}$' } |
        Where-Object { Test-Path -LiteralPath (Join-Path $_.FullName 'SHA256SUMS') } |
        Sort-Object { [version]$_.Name } -Descending
    $found = $false
    :versions foreach ($version in $versions) {
        foreach ($triple in $triples) {
            $pick = "uv-$triple.zip"
            if (Test-Path -LiteralPath (Join-Path $version.FullName $pick) -PathType Leaf) {
                $found = $true
                break versions
            }
        }
    }
    if (-not $found) {
        $have = @(Get-ChildItem -Path (Join-Path $uvRoot '*\uv-*') -File |
            ForEach-Object { "@UV_DIR@/$($_.Directory.Name)/$($_.Name)" }) -join ' '
        throw ("use-mirror: no uv on PATH, and the mirror has no uv for this machine " +
            "(Windows $($cpu): $($triples -join ' ')); the mirror has: $have. Install uv on " +
            "this machine (this script then uses it), or carry uv for it on the mirror")
    }
    $rel = "@UV_DIR@/$($version.Name)/$pick"
    $sums = "@UV_DIR@/$($version.Name)/SHA256SUMS"
    $expected = $null
    foreach ($line in Get-Content -LiteralPath (Join-Path $version.FullName 'SHA256SUMS')) {
        $want, $name = $line -split ' ', 2
        if ($name -and $name.TrimStart(' ').TrimStart('*') -eq $pick) { $expected = $want }
    }
    if (-not $expected) {
        throw "use-mirror: $rel is not listed in $sums, so it cannot be checked: not used"
    }
    $uvDir = Join-Path $env:LOCALAPPDATA "mirrorsync\uv\$($version.Name)\$triple"
    $mark = Join-Path $uvDir '@MARK@'
    $zip = Join-Path $version.FullName $pick
    if ((Test-Path -LiteralPath (Join-Path $uvDir 'uv.exe')) -and
        (Test-Path -LiteralPath $mark) -and
        ((Get-Content -LiteralPath $mark -TotalCount 1) -eq "$expected  $pick")) {
        Write-Host ("use-mirror: uv $($version.Name) for $($triple): unpacked before from " +
            "$rel (sha256 $expected) into $uvDir; used as it is")
    } else {
        $hash = Get-FileHash -LiteralPath $zip -Algorithm SHA256 -ErrorAction Stop
        $got = $hash.Hash.ToLowerInvariant()
        if ($got -ne $expected) {
            throw ("use-mirror: $rel is damaged: sha256 $got, but $sums says $expected; " +
                "not used, nothing unpacked; check the mirror with verify-mirror.ps1")
        }
        # Unpack beside the final directory, then rename: a half-unpacked uv is never used.
        $parent = Split-Path -Parent $uvDir
        $tmp = Join-Path $parent ".unpack-$triple.$PID"
        New-Item -ItemType Directory -Force -Path $parent | Out-Null
        try {
            Remove-Item -LiteralPath $tmp -Recurse -Force -ErrorAction SilentlyContinue
            Expand-Archive -LiteralPath $zip -DestinationPath $tmp -ErrorAction Stop
            $exe = Get-ChildItem -LiteralPath $tmp -Filter 'uv.exe' -Recurse -File |
                Select-Object -First 1
            if (-not $exe) { throw "use-mirror: $rel holds no uv.exe; not used" }
            $source = Join-Path $exe.DirectoryName '@MARK@'
            Set-Content -LiteralPath $source -Value "$expected  $pick"
            Remove-Item -LiteralPath $uvDir -Recurse -Force -ErrorAction SilentlyContinue
            Move-Item -LiteralPath $exe.DirectoryName -Destination $uvDir -ErrorAction Stop
        } finally {
            Remove-Item -LiteralPath $tmp -Recurse -Force -ErrorAction SilentlyContinue
        }
        Write-Host ("use-mirror: uv $($version.Name) for $($triple): $rel, sha256 checked " +
            "against $sums, unpacked to $uvDir")
    }
    $env:PATH = "$uvDir;$env:PATH"
    Write-Host ("use-mirror: that directory is first on PATH in this PowerShell session only, " +
        "not for good; to keep it there: [Environment]::SetEnvironmentVariable('Path', " +
        "'$uvDir;' + [Environment]::GetEnvironmentVariable('Path', 'User'), 'User')")
}
$env:UV_PYTHON_INSTALL_MIRROR = ([System.Uri]::new($root)).AbsoluteUri.TrimEnd('/')
$metadata = Join-Path $root 'download-metadata.json'
if (Test-Path -LiteralPath $metadata) {
    $env:UV_PYTHON_DOWNLOADS_JSON_URL = ([System.Uri]::new($metadata)).AbsoluteUri
}
Write-Host "UV_PYTHON_INSTALL_MIRROR=$env:UV_PYTHON_INSTALL_MIRROR"
if ($env:UV_PYTHON_DOWNLOADS_JSON_URL) {
    Write-Host "UV_PYTHON_DOWNLOADS_JSON_URL=$env:UV_PYTHON_DOWNLOADS_JSON_URL"
}
"""

USE_MIRROR_PS1 = (
    _USE_MIRROR_PS1.replace("@ARCHES@", _ps1_arch_table())
    .replace("@UV_DIR@", paths.UV_DIR)
    .replace("@MARK@", UV_SOURCE_MARK)
)

_VERIFY_MIRROR_SH = r"""#!/bin/sh
# Check this python-build-standalone mirror without mirrorsync (written by mirrorsync).
#
#   sh /path/to/mirror/verify-mirror.sh
#
# Hashes every file each release's SHA256SUMS lists (<tag>/SHA256SUMS, and the stick's uv:
# uv/<version>/SHA256SUMS) with sha256sum or shasum -a 256, prints one line per problem
# (MISSING, FAILED) and a summary, and exits 0 only when every file is there and matches.
# POSIX sh; no network needed.
set -u
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 2
@SHA_TOOL@
checked=0
problems=0
releases=0
uvs=0
check_list() {
    # $1: a SHA256SUMS; $2: its directory as shown (<tag>, uv/<version>)
    while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
@SUMS_ENTRY@
        checked=$((checked + 1))
        if [ ! -f "${1%/SHA256SUMS}/$name" ]; then
            echo "MISSING $2/$name"
            problems=$((problems + 1))
            continue
        fi
        got=$(sha "${1%/SHA256SUMS}/$name") || got=unreadable
        got=${got%% *}
        if [ "$got" != "$want" ]; then
            echo "FAILED  $2/$name (sha256 $got, expected $want)"
            problems=$((problems + 1))
        fi
    done < "$1"
}
for list in "$here"/*/SHA256SUMS; do
    [ -f "$list" ] || continue
    releases=$((releases + 1))
    dir=${list%/SHA256SUMS}
    check_list "$list" "${dir##*/}"
done
for list in "$here/@UV_DIR@"/*/SHA256SUMS; do
    [ -f "$list" ] || continue
    uvs=$((uvs + 1))
    dir=${list%/SHA256SUMS}
    check_list "$list" "@UV_DIR@/${dir##*/}"
done
if [ "$releases" -eq 0 ]; then
    echo "NO RELEASES: no <tag>/SHA256SUMS below $here"
    problems=$((problems + 1))
fi
also=
if [ "$uvs" -gt 0 ]; then
    also=" and $uvs uv version(s)"
fi
echo "verify-mirror: $checked file(s) in $releases release(s)$also checked, $problems problem(s)"
[ "$problems" -eq 0 ]
"""

VERIFY_MIRROR_SH = (
    _VERIFY_MIRROR_SH.replace("@SHA_TOOL@", _sh_sha_tool("verify-mirror").rstrip("\n"))
    .replace("@SUMS_ENTRY@", textwrap.indent(_sh_sums_entry("line"), " " * 8).rstrip("\n"))
    .replace("@UV_DIR@", paths.UV_DIR)
)

_VERIFY_MIRROR_PS1 = r"""# Check this python-build-standalone mirror without mirrorsync
# (written by mirrorsync).
#
#   powershell -ExecutionPolicy Bypass -File E:\mirror\verify-mirror.ps1
#
# Hashes every file each release's SHA256SUMS lists (<tag>\SHA256SUMS, and the stick's uv:
# uv\<version>\SHA256SUMS) with Get-FileHash, prints one line per problem (MISSING, FAILED) and
# a summary, and exits 0 only when every file is there and matches. The same checks as
# verify-mirror.sh.
$root = $PSScriptRoot
$checked = 0
$problems = 0
$releases = 0
$uvs = 0
$dirs = @(Get-ChildItem -LiteralPath $root -Directory)
$uvRoot = Join-Path $root '@UV_DIR@'
if (Test-Path -LiteralPath $uvRoot -PathType Container) {
    $dirs += @(Get-ChildItem -LiteralPath $uvRoot -Directory)
}
foreach ($dir in $dirs) {
    $shown = if ($dir.Parent.FullName -eq $uvRoot) { "@UV_DIR@/$($dir.Name)" } else { $dir.Name }
    $list = Join-Path $dir.FullName 'SHA256SUMS'
    if (-not (Test-Path -LiteralPath $list -PathType Leaf)) { continue }
    if ($shown -eq $dir.Name) { $releases++ } else { $uvs++ }
    foreach ($line in Get-Content -LiteralPath $list) {
        if (-not $line) { continue }
        $want, $name = $line -split ' ', 2
        $name = $name.TrimStart(' ').TrimStart('*')
        $checked++
        $file = Join-Path $dir.FullName $name
        if (-not (Test-Path -LiteralPath $file -PathType Leaf)) {
            Write-Output "MISSING $shown/$name"
            $problems++
            continue
        }
        $hash = Get-FileHash -LiteralPath $file -Algorithm SHA256 -ErrorAction SilentlyContinue
        $got = if ($hash) { $hash.Hash.ToLowerInvariant() } else { 'unreadable' }
        if ($got -ne $want) {
            Write-Output "FAILED  $shown/$name (sha256 $got, expected $want)"
            $problems++
        }
    }
}
if ($releases -eq 0) {
    Write-Output "NO RELEASES: no <tag>\SHA256SUMS below $root"
    $problems++
}
$also = if ($uvs -gt 0) { " and $uvs uv version(s)" } else { '' }
$counted = "$checked file(s) in $releases release(s)$also"
Write-Output "verify-mirror: $counted checked, $problems problem(s)"
if ($problems -eq 0) { exit 0 } else { exit 1 }
"""

VERIFY_MIRROR_PS1 = _VERIFY_MIRROR_PS1.replace("@UV_DIR@", paths.UV_DIR)

README_TXT = """python-build-standalone mirror (written by mirrorsync)
=======================================================

This directory is a mirror of python-build-standalone, the CPython builds that uv installs.
It works wherever it is mounted or copied, with no network:

  Linux, macOS:   sh /path/to/this/dir/use-mirror.sh uv python install 3.13
                  (or: eval "$(sh /path/to/this/dir/use-mirror.sh)" and use uv as usual)
  Windows:        . E:\\path\\to\\this\\dir\\use-mirror.ps1
                  uv python install 3.13

By hand: UV_PYTHON_INSTALL_MIRROR=file:///absolute/path/to/this/dir (an absolute file:// URL).

Check a copy (every release's SHA256SUMS; one line per problem, exit 0 when all match):

  Linux, macOS:   sh /path/to/this/dir/verify-mirror.sh
  Windows:        powershell -ExecutionPolicy Bypass -File E:\\path\\to\\verify-mirror.ps1
  With mirrorsync: mirrorsync verify --root /path/to/this/dir --full
  One release:    cd <release directory> && sha256sum -c SHA256SUMS

uv on the stick: on a machine without uv, when this directory carries uv (uv/<version>/), the
use-mirror scripts take the newest uv built for the machine (Linux glibc or musl, macOS,
Windows), check it against uv/<version>/SHA256SUMS, unpack it once into your own directory and
put it first on PATH for that command (sh; with eval: that shell) or that PowerShell session
only, never for good. They say what they did and how to keep uv on PATH:

  Linux, macOS:   ${XDG_DATA_HOME:-~/.local/share}/mirrorsync/uv/<version>/<triple>/
  Windows:        %LOCALAPPDATA%\\mirrorsync\\uv\\<version>\\<triple>\\

A damaged uv archive, or no uv for the machine, is refused and the command is not run. A uv
already on PATH is used as it is.

Layout: <release tag>/<archive>, <release tag>/SHA256SUMS, index.json (every file with its
size and sha256), download-metadata.json (uv's list of what this mirror holds),
uv/<version>/uv-<triple>.tar.gz or .zip with uv/<version>/SHA256SUMS (uv, when carried).
"""

OFFLINE_FILES: dict[str, str] = {
    paths.USE_MIRROR_SH: USE_MIRROR_SH,
    paths.USE_MIRROR_PS1: USE_MIRROR_PS1,
    paths.VERIFY_MIRROR_SH: VERIFY_MIRROR_SH,
    paths.VERIFY_MIRROR_PS1: VERIFY_MIRROR_PS1,
    paths.README_TXT: README_TXT,
}
"""Root files of an offline-capable tree, by name."""
