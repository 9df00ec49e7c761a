"""select.uv_metadata: mirror exactly what a uv download list references."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from mirror_harness import Mirror

from mirrorsync.errors import ConfigError

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-x86_64-pc-windows-msvc-install_only.tar.gz",
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst",
]
GONE = "cpython-3.12.99+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
PREFIX = "https://github.com/astral-sh/python-build-standalone/releases/download/"


def uv_list(names: list[str]) -> bytes:
    """A download list in uv's own download-metadata.json shape (only the fields we read)."""
    entries = {
        f"cpython-x-{i}": {
            "name": "cpython",
            "url": PREFIX + TAG + "/" + quote(name, safe=""),
            "sha256": None,
        }
        for i, name in enumerate(names)
    }
    entries["pypy-3.10"] = {"name": "pypy", "url": "https://downloads.python.org/pypy/x.tar.bz2"}
    return json.dumps(entries).encode()


async def test_only_referenced_assets_are_mirrored(mirror: Mirror, tmp_path: Path) -> None:
    """The list narrows the selection; what it names that upstream lacks is reported."""
    mirror.fake.add_release(TAG, NAMES)
    (tmp_path / "uv.json").write_bytes(uv_list([NAMES[0], NAMES[3], GONE]))
    mirror.configure(select={"uv_metadata": "uv.json"})
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert mirror.published() == {f"{TAG}/{NAMES[0]}", f"{TAG}/{NAMES[3]}"}
    assert outcome.plan.uv_missing == (f"{TAG}/{GONE}",)


async def test_list_combines_with_the_other_filters(mirror: Mirror, tmp_path: Path) -> None:
    """An asset must be in the list and pass every other select filter."""
    mirror.fake.add_release(TAG, NAMES)
    (tmp_path / "uv.json").write_bytes(uv_list(NAMES))
    mirror.configure(select={"uv_metadata": "uv.json", "flavors": ["install_only_stripped"]})
    await mirror.sync()
    assert mirror.published() == {f"{TAG}/{NAMES[0]}", f"{TAG}/{NAMES[1]}"}


@pytest.fixture
async def list_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """Serves whatever the test puts in the returned list at /download-metadata.json."""
    body: list[bytes] = []

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body[0], content_type="application/json")

    app = web.Application()
    app.router.add_get("/download-metadata.json", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/download-metadata.json", body
    await runner.cleanup()


async def test_list_can_come_from_a_url(
    mirror: Mirror, list_server: tuple[str, list[bytes]]
) -> None:
    """An http(s) URL is fetched (with retries) like any upstream file."""
    url, body = list_server
    body.append(uv_list([NAMES[1]]))
    mirror.fake.add_release(TAG, NAMES)
    mirror.configure(select={"uv_metadata": url})
    await mirror.sync()
    assert mirror.published() == {f"{TAG}/{NAMES[1]}"}


async def test_malformed_list_is_a_config_error(mirror: Mirror, tmp_path: Path) -> None:
    """A list that is not JSON stops the run before anything changes (exit 2)."""
    mirror.fake.add_release(TAG, NAMES)
    (tmp_path / "uv.json").write_text("[not json", encoding="utf-8")
    mirror.configure(select={"uv_metadata": "uv.json"})
    with pytest.raises(ConfigError, match=r"uv\.json"):
        await mirror.sync()
    assert mirror.published() == set()


async def test_missing_list_file_is_a_config_error(mirror: Mirror) -> None:
    """A list file that does not exist is reported by path (exit 2)."""
    mirror.fake.add_release(TAG, NAMES)
    mirror.configure(select={"uv_metadata": "nowhere.json"})
    assert await mirror.run() == 2


@pytest.mark.parametrize(
    "document",
    [
        b"{}",  # an empty list
        json.dumps({"pypy-3.10": {"name": "pypy", "url": "https://x.example/p.tar.bz2"}}).encode(),
    ],
    ids=["empty", "no-cpython"],
)
async def test_a_list_that_references_no_archive_is_a_config_error(
    mirror: Mirror, tmp_path: Path, document: bytes
) -> None:
    """A uv list naming no python-build-standalone archive exits 2, not "success, 0 files"."""
    mirror.fake.add_release(TAG, NAMES)
    (tmp_path / "uv.json").write_bytes(document)
    mirror.configure(select={"uv_metadata": "uv.json"})
    with pytest.raises(ConfigError, match="references no python-build-standalone archive"):
        await mirror.sync()
    assert not mirror.root.joinpath(TAG).exists()
