"""Files that make a copied tree (a USB stick, a network share) usable wherever it is mounted."""

from __future__ import annotations

from mirrorsync.core import layout as paths

USE_MIRROR_SH = r"""#!/bin/sh
# Use this python-build-standalone mirror from wherever it is mounted (written by mirrorsync).
#
#   sh /path/to/mirror/use-mirror.sh uv python install 3.13   # run one command with the mirror
#   eval "$(sh /path/to/mirror/use-mirror.sh)"               # or set it in the current shell
#
# It sets UV_PYTHON_INSTALL_MIRROR and UV_PYTHON_DOWNLOADS_JSON_URL to file:// URLs of this
# directory, computed from the script's own location. POSIX sh; no network needed.
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
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
printf "export UV_PYTHON_INSTALL_MIRROR='%s'\n" "$UV_PYTHON_INSTALL_MIRROR"
if [ -n "${UV_PYTHON_DOWNLOADS_JSON_URL:-}" ]; then
    printf "export UV_PYTHON_DOWNLOADS_JSON_URL='%s'\n" "$UV_PYTHON_DOWNLOADS_JSON_URL"
fi
"""

USE_MIRROR_PS1 = r"""# Use this python-build-standalone mirror from wherever it is mounted
# (written by mirrorsync).
#
#   . E:\mirror\use-mirror.ps1          # dot-source it: sets the variables in this session
#   uv python install 3.13
#
# Sets UV_PYTHON_INSTALL_MIRROR and UV_PYTHON_DOWNLOADS_JSON_URL to file:// URLs of this
# directory, computed from the script's own location.
$root = $PSScriptRoot
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

VERIFY_MIRROR_SH = r"""#!/bin/sh
# Check this python-build-standalone mirror without mirrorsync (written by mirrorsync).
#
#   sh /path/to/mirror/verify-mirror.sh
#
# Hashes every file each release's SHA256SUMS lists (<tag>/SHA256SUMS) with sha256sum or
# shasum -a 256, prints one line per problem (MISSING, FAILED) and a summary, and exits 0 only
# when every file is there and matches. POSIX sh; no network needed.
set -u
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 2
if command -v sha256sum >/dev/null 2>&1; then
    sha() { sha256sum < "$1"; }
elif command -v shasum >/dev/null 2>&1; then
    sha() { shasum -a 256 < "$1"; }
else
    echo "verify-mirror: neither sha256sum nor shasum is installed" >&2
    exit 2
fi
checked=0
problems=0
releases=0
for list in "$here"/*/SHA256SUMS; do
    [ -f "$list" ] || continue
    releases=$((releases + 1))
    dir=${list%/SHA256SUMS}
    tag=${dir##*/}
    while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
        want=${line%% *}
        name=${line#* }
        name=${name# }
        name=${name#\*}
        checked=$((checked + 1))
        if [ ! -f "$dir/$name" ]; then
            echo "MISSING $tag/$name"
            problems=$((problems + 1))
            continue
        fi
        got=$(sha "$dir/$name") || got=unreadable
        got=${got%% *}
        if [ "$got" != "$want" ]; then
            echo "FAILED  $tag/$name (sha256 $got, expected $want)"
            problems=$((problems + 1))
        fi
    done < "$list"
done
if [ "$releases" -eq 0 ]; then
    echo "NO RELEASES: no <tag>/SHA256SUMS below $here"
    problems=$((problems + 1))
fi
echo "verify-mirror: $checked file(s) in $releases release(s) checked, $problems problem(s)"
[ "$problems" -eq 0 ]
"""

VERIFY_MIRROR_PS1 = r"""# Check this python-build-standalone mirror without mirrorsync
# (written by mirrorsync).
#
#   powershell -ExecutionPolicy Bypass -File E:\mirror\verify-mirror.ps1
#
# Hashes every file each release's SHA256SUMS lists (<tag>\SHA256SUMS) with Get-FileHash,
# prints one line per problem (MISSING, FAILED) and a summary, and exits 0 only when every file
# is there and matches. The same checks as verify-mirror.sh.
$root = $PSScriptRoot
$checked = 0
$problems = 0
$releases = 0
foreach ($dir in Get-ChildItem -LiteralPath $root -Directory) {
    $list = Join-Path $dir.FullName 'SHA256SUMS'
    if (-not (Test-Path -LiteralPath $list -PathType Leaf)) { continue }
    $releases++
    foreach ($line in Get-Content -LiteralPath $list) {
        if (-not $line) { continue }
        $want, $name = $line -split ' ', 2
        $name = $name.TrimStart(' ').TrimStart('*')
        $checked++
        $file = Join-Path $dir.FullName $name
        if (-not (Test-Path -LiteralPath $file -PathType Leaf)) {
            Write-Output "MISSING $($dir.Name)/$name"
            $problems++
            continue
        }
        $hash = Get-FileHash -LiteralPath $file -Algorithm SHA256 -ErrorAction SilentlyContinue
        $got = if ($hash) { $hash.Hash.ToLowerInvariant() } else { 'unreadable' }
        if ($got -ne $want) {
            Write-Output "FAILED  $($dir.Name)/$name (sha256 $got, expected $want)"
            $problems++
        }
    }
}
if ($releases -eq 0) {
    Write-Output "NO RELEASES: no <tag>\SHA256SUMS below $root"
    $problems++
}
Write-Output "verify-mirror: $checked file(s) in $releases release(s) checked, $problems problem(s)"
if ($problems -eq 0) { exit 0 } else { exit 1 }
"""

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

Layout: <release tag>/<archive>, <release tag>/SHA256SUMS, index.json (every file with its
size and sha256), download-metadata.json (uv's list of what this mirror holds).
"""

OFFLINE_FILES: dict[str, str] = {
    paths.USE_MIRROR_SH: USE_MIRROR_SH,
    paths.USE_MIRROR_PS1: USE_MIRROR_PS1,
    paths.VERIFY_MIRROR_SH: VERIFY_MIRROR_SH,
    paths.VERIFY_MIRROR_PS1: VERIFY_MIRROR_PS1,
    paths.README_TXT: README_TXT,
}
"""Root files of an offline-capable tree, by name."""
