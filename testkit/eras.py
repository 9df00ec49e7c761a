"""TEST DATA: real names of the three checksum eras (from gh_release_examples.json)."""

from __future__ import annotations

from fake_github import FakeGitHub

NO_SUMS_TAG = "20210724"  # before 2022: no checksum published at all
NO_SUMS = [
    "cpython-3.9.6-x86_64-unknown-linux-gnu-install_only-20210724T1424.tar.gz",
    "cpython-3.9.6-aarch64-apple-darwin-install_only-20210724T1424.tar.gz",
    "cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst",
]
SUMS_TAG = "20240726"  # SHA256SUMS and .sha256 sidecars, no API digest
SUMS = [
    "cpython-3.12.4+20240726-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.12.4+20240726-x86_64-pc-windows-msvc-shared-install_only.tar.gz",
    "cpython-3.12.4+20240726-aarch64-apple-darwin-pgo+lto-full.tar.zst",
]
DIGEST_TAG = "20251217"  # API digests and SHA256SUMS
DIGEST = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-x86_64-pc-windows-msvc-install_only.tar.gz",
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst",
]
PRERELEASE = "cpython-3.15.0a3+20251217-riscv64-unknown-linux-gnu-freethreaded+noopt-full.tar.zst"
"""A CPython alpha in the digest era: skipped unless prereleases are allowed."""
LINUX = DIGEST[0]


def three_eras(fake: FakeGitHub, *, with_prerelease: bool = False) -> None:
    """Publish one release of each checksum era on the fake."""
    fake.add_release(NO_SUMS_TAG, NO_SUMS, checksums="none")
    fake.add_release(SUMS_TAG, SUMS, checksums="sums")
    fake.add_release(DIGEST_TAG, [*DIGEST, *([PRERELEASE] if with_prerelease else [])])


def all_paths() -> set[str]:
    """Every path ``three_eras`` publishes that the default selection keeps."""
    eras = ((NO_SUMS_TAG, NO_SUMS), (SUMS_TAG, SUMS), (DIGEST_TAG, DIGEST))
    return {f"{tag}/{name}" for tag, names in eras for name in names}
