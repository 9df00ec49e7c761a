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

README_TXT = """python-build-standalone mirror (written by mirrorsync)
=======================================================

This directory is a mirror of python-build-standalone, the CPython builds that uv installs.
It works wherever it is mounted or copied, with no network:

  Linux, macOS:   sh /path/to/this/dir/use-mirror.sh uv python install 3.13
                  (or: eval "$(sh /path/to/this/dir/use-mirror.sh)" and use uv as usual)
  Windows:        . E:\\path\\to\\this\\dir\\use-mirror.ps1
                  uv python install 3.13

By hand: UV_PYTHON_INSTALL_MIRROR=file:///absolute/path/to/this/dir (an absolute file:// URL).

Check a copy:    cd <release directory> && sha256sum -c SHA256SUMS
                 (or: mirrorsync verify --root /path/to/this/dir --full)

Layout: <release tag>/<archive>, <release tag>/SHA256SUMS, index.json (every file with its
size and sha256), download-metadata.json (uv's list of what this mirror holds).
"""

OFFLINE_FILES: dict[str, str] = {
    paths.USE_MIRROR_SH: USE_MIRROR_SH,
    paths.USE_MIRROR_PS1: USE_MIRROR_PS1,
    paths.README_TXT: README_TXT,
}
"""Root files of an offline-capable tree, by name."""
