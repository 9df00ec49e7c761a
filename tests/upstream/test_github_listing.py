"""Tests of the test infrastructure: the fake GitHub, spoken to with plain aiohttp requests.

The rest of the suite trusts this fake; these tests pin what it promises (``fake_github.py``).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from conftest import FakeClock, NoSleep
from fake_github import FakeGitHub, generated_content, render_sums

TAG = "20251217"
NAME = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz"
OTHER = "cpython-3.13.11+20251217-aarch64-apple-darwin-pgo+lto-full.tar.zst"
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client session, as any HTTP client would use the fake."""
    async with aiohttp.ClientSession() as session:
        yield session


def links(response: aiohttp.ClientResponse) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def releases_url(fake: FakeGitHub, **query: int) -> str:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{fake.api_url}/repos/{fake.repo}/releases" + (f"?{qs}" if qs else "")


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200
        return await response.json()


async def cdn_url(http: aiohttp.ClientSession, fake: FakeGitHub, name: str = NAME) -> str:
    async with http.get(fake.browser_download_url(TAG, name), allow_redirects=False) as response:
        assert response.status == 302
        return response.headers["Location"]


async def raw_get(fake: FakeGitHub, url: str) -> tuple[bytes, bytes, BaseException | None]:
    """Send one GET over a bare socket; return the head, the body bytes seen, and the read error."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode()
    )
    received, error = b"", None
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionError as e:
        error = e
    finally:
        writer.close()
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body, error


def content_length(head: bytes) -> int:
    match = re.search(rb"(?im)^content-length:\s*(\d+)\r?$", head)
    assert match is not None
    return int(match[1])


# ---------------------------------------------------------------------------- listing


async def test_listing_pages_follow_link(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """25 releases at per_page=10 come as 10, 10, 5, chained by absolute rel="next" links."""
    tags = [f"2024{m:02d}{d:02d}" for m in (1, 2, 3) for d in range(1, 10)][:25]
    for tag in tags:
        fake_github.add_release(tag, [], checksums="none")
    url: str | None = releases_url(fake_github, per_page=10)
    pages: list[list[str]] = []
    page_links: list[dict[str, str]] = []
    while url is not None:
        async with http.get(url) as response:
            assert response.status == 200
            pages.append([r["tag_name"] for r in await response.json()])
            page_links.append(links(response))
            url = page_links[-1].get("next")
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [tag for page in pages for tag in page] == tags[::-1]
    base = f"{fake_github.api_url}/repositories/{fake_github.repo_id}/releases?per_page=10&page="
    assert page_links[0] == {"next": base + "2", "last": base + "3"}
    assert page_links[1] == {
        "prev": base + "1",
        "next": base + "3",
        "last": base + "3",
        "first": base + "1",
    }
    assert page_links[2] == {"prev": base + "2", "first": base + "1"}
    assert [h.path for h in fake_github.listing_hits()][1:] == [
        f"/repositories/{fake_github.repo_id}/releases"
    ] * 2


async def test_single_page_has_no_link(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """A listing that fits one page carries no Link header, as on GitHub."""
    fake_github.add_release(TAG, [NAME])
    async with http.get(releases_url(fake_github)) as response:
        assert response.status == 200
        assert "Link" not in response.headers


async def test_listing_order_is_creation_order(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """Releases are listed newest-created first, not by tag, unless ``order`` says otherwise."""
    for tag in ("20240726", "20251217", "20240725"):
        fake_github.add_release(tag, [], checksums="none")
    listed = await get_json(http, releases_url(fake_github))
    assert [r["tag_name"] for r in listed] == ["20240725", "20251217", "20240726"]
    fake_github.order = ["20240726"]
    listed = await get_json(http, releases_url(fake_github))
    assert [r["tag_name"] for r in listed] == ["20240726", "20240725", "20251217"]


async def test_per_page_defaults_and_caps(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """per_page defaults to 30 and is capped at max_per_page (100 unless changed)."""
    for n in range(101):
        fake_github.add_release(f"t{n:03d}", [], checksums="none")
    assert len(await get_json(http, releases_url(fake_github))) == 30
    assert len(await get_json(http, releases_url(fake_github, per_page=500))) == 100
    fake_github.max_per_page = 7
    async with http.get(releases_url(fake_github, per_page=50)) as response:
        assert len(await response.json()) == 7
        assert links(response)["last"].endswith("per_page=50&page=15")


async def test_etag_answers_304(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """A matching If-None-Match gets a free, empty 304, even after downloads; a change gets 200."""
    fake_github.add_release(TAG, [NAME])
    url = releases_url(fake_github, per_page=1)
    async with http.get(url) as first:
        etag = first.headers["ETag"]
        remaining = first.headers["x-ratelimit-remaining"]
    assert re.fullmatch(r'W/"[0-9a-f]{64}"', etag)
    async with http.get(url, headers={"If-None-Match": etag}) as again:
        assert again.status == 304
        assert again.headers["ETag"] == etag
        assert again.headers["x-ratelimit-remaining"] == remaining
        assert await again.read() == b""
    async with http.get(fake_github.browser_download_url(TAG, NAME)) as download:
        await download.read()
    async with http.get(url, headers={"If-None-Match": etag}) as after_download:
        assert after_download.status == 304
    fake_github.add_release("20251218", [OTHER])
    async with http.get(url, headers={"If-None-Match": etag}) as changed:
        assert changed.status == 200
        assert changed.headers["ETag"] != etag


async def test_faults_come_before_304(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """A queued listing fault answers a conditional request; the unfaulted one after it gets 304."""
    fake_github.add_release(TAG, [NAME])
    async with http.get(releases_url(fake_github)) as first:
        etag = first.headers["ETag"]
    fake_github.fail_listing(502)
    statuses = []
    for _ in range(2):
        async with http.get(releases_url(fake_github), headers={"If-None-Match": etag}) as response:
            statuses.append(response.status)
    assert statuses == [502, 304]


async def test_gzip_when_asked(fake_github: FakeGitHub) -> None:
    """The listing is gzip-encoded when the client accepts gzip, and plain otherwise."""
    fake_github.add_release(TAG, [NAME])
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        async with raw.get(
            releases_url(fake_github), headers={"Accept-Encoding": "gzip"}
        ) as zipped:
            assert zipped.headers["Content-Encoding"] == "gzip"
            listed = json.loads(gzip.decompress(await zipped.read()))
        async with raw.get(
            releases_url(fake_github), headers={"Accept-Encoding": "identity"}
        ) as plain:
            assert "Content-Encoding" not in plain.headers
            assert json.loads(await plain.read()) == listed
    assert listed[0]["tag_name"] == TAG


async def test_objects_shaped_like_real_ones(
    fake_github: FakeGitHub, http: aiohttp.ClientSession, real_data: Path
) -> None:
    """Release and asset objects carry exactly the fields of real GitHub release objects."""
    real = json.loads((real_data / "gh_release_examples.json").read_text(encoding="utf-8"))
    real_release = real["releases"][-1]
    fake_github.add_release(TAG, [NAME, OTHER])
    (release,) = await get_json(http, releases_url(fake_github))
    assert release.keys() == real_release.keys()
    assert release["author"].keys() == real_release["author"].keys()
    for asset in release["assets"]:
        assert asset.keys() == real_release["assets"][0].keys()
        assert asset["state"] == "uploaded"
        assert asset["content_type"] == "application/octet-stream"
        assert asset["digest"] == f"sha256:{fake_github.sha256(TAG, asset['name'])}"
        assert asset["size"] == len(fake_github.content(TAG, asset["name"]))
    by_name = {a["name"]: a for a in release["assets"]}
    assert by_name[OTHER]["browser_download_url"] == (
        f"{fake_github.api_url}/{fake_github.repo}/releases/download/{TAG}/"
        "cpython-3.13.11%2B20251217-aarch64-apple-darwin-pgo%2Blto-full.tar.zst"
    )
    assert release["published_at"] is not None
    assert (
        release["url"] == f"{fake_github.api_url}/repos/{fake_github.repo}/releases/{release['id']}"
    )


async def test_drafts_listed_by_default(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """Drafts are listed with published_at null (as to a maintainer) but have no tag route."""
    fake_github.add_release(TAG, [NAME], draft=True)
    fake_github.add_release("20251218", [OTHER], prerelease=True)
    listed = await get_json(http, releases_url(fake_github))
    assert [(r["tag_name"], r["draft"], r["prerelease"]) for r in listed] == [
        ("20251218", False, True),
        (TAG, True, False),
    ]
    assert listed[1]["published_at"] is None
    async with http.get(f"{fake_github.api_url}/repos/{fake_github.repo}/releases/tags/{TAG}") as r:
        assert r.status == 404
        assert (await r.json())["message"] == "Not Found"


async def test_drafts_hidden_when_anonymous(http: aiohttp.ClientSession) -> None:
    """With show_drafts=False (the anonymous view) drafts are not listed at all."""
    async with FakeGitHub(show_drafts=False) as fake:
        fake.add_release(TAG, [NAME], draft=True)
        fake.add_release("20251218", [OTHER])
        listed = await get_json(http, releases_url(fake))
    assert [r["tag_name"] for r in listed] == ["20251218"]


async def test_release_by_tag(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """GET /releases/tags/{tag} answers the release, and 404 JSON for an unknown tag."""
    release = fake_github.add_release(TAG, [NAME], release_id=271247500)
    base = f"{fake_github.api_url}/repos/{fake_github.repo}/releases/tags"
    body = await get_json(http, f"{base}/{TAG}")
    assert (body["id"], body["tag_name"]) == (release.id, TAG)
    async with http.get(f"{base}/19990101") as missing:
        assert missing.status == 404
        assert (await missing.json())["message"] == "Not Found"


async def test_release_assets_paginated(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """GET /releases/{id}/assets pages through every asset in upload order via Link."""
    names = [f"asset-{n:02d}.tar.gz" for n in range(25)]
    release = fake_github.add_release(TAG, names, checksums="none")
    url: str | None = (
        f"{fake_github.api_url}/repos/{fake_github.repo}/releases/{release.id}/assets?per_page=10"
    )
    seen: list[str] = []
    while url is not None:
        async with http.get(url) as response:
            assert response.status == 200
            seen += [a["name"] for a in await response.json()]
            url = links(response).get("next")
    assert seen == names


async def test_other_repo_is_404(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """Routes of any other repository answer 404."""
    fake_github.add_release(TAG, [NAME])
    async with http.get(f"{fake_github.api_url}/repos/someone/else/releases") as response:
        assert response.status == 404


# ---------------------------------------------------------------------------- checksums


@pytest.mark.parametrize(
    ("mode", "published"),
    [
        ("digest", {"sums", "digest"}),  # uploads since 2025-07
        ("sums", {"sums", "sidecars"}),  # 20220227 … ~20250702
        ("sidecars", {"sidecars"}),
        ("none", set()),  # before 20220227
    ],
)
async def test_checksum_files_per_mode(
    fake_github: FakeGitHub, http: aiohttp.ClientSession, mode: Any, published: set[str]
) -> None:
    """Each checksum mode publishes SHA256SUMS, sidecars and digests as that upstream era did."""
    has_sums, has_sidecars = "sums" in published, "sidecars" in published
    has_digest = "digest" in published
    fake_github.add_release(TAG, [OTHER, NAME], checksums=mode)
    (release,) = await get_json(http, releases_url(fake_github))
    names = [a["name"] for a in release["assets"]]
    expected = [OTHER, f"{OTHER}.sha256", NAME, f"{NAME}.sha256"] if has_sidecars else [OTHER, NAME]
    assert names == expected + (["SHA256SUMS"] if has_sums else [])
    assert all((a["digest"] is not None) == has_digest for a in release["assets"])
    if has_sums:
        async with http.get(fake_github.browser_download_url(TAG, "SHA256SUMS")) as response:
            sums = await response.read()
        assert OTHER < NAME  # sorted by name, archives only, two spaces
        lines = [f"{fake_github.sha256(TAG, n)}  {n}\n" for n in (OTHER, NAME)]
        assert sums == "".join(lines).encode()
    if has_sidecars:
        sidecar = fake_github.content(TAG, f"{NAME}.sha256")
        assert sidecar == f"{fake_github.sha256(TAG, NAME)}\n".encode()
        assert len(sidecar) == 65


async def test_set_content_moves_everything(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """A changed asset gets new bytes, digest, id and updated_at, and its checksum files follow."""
    fake_github.add_release(TAG, [NAME, OTHER], checksums="sums")
    old_url = await cdn_url(http, fake_github)
    (before,) = await get_json(http, releases_url(fake_github))
    fake_github.set_content(TAG, NAME, b"new bytes")
    (after,) = await get_json(http, releases_url(fake_github))
    old, new = ({a["name"]: a for a in r["assets"]} for r in (before, after))
    for name in (NAME, f"{NAME}.sha256", "SHA256SUMS"):
        assert new[name]["id"] != old[name]["id"]
        assert new[name]["updated_at"] > old[name]["updated_at"]
    assert new[OTHER] == old[OTHER]
    digest = hashlib.sha256(b"new bytes").hexdigest()
    assert fake_github.content(TAG, f"{NAME}.sha256") == f"{digest}\n".encode()
    assert f"{digest}  {NAME}\n".encode() in fake_github.content(TAG, "SHA256SUMS")
    assert list(new) == list(old)
    async with http.get(old_url) as stale:
        assert stale.status == 404
    async with http.get(fake_github.browser_download_url(TAG, NAME)) as fresh:
        assert await fresh.read() == b"new bytes"


async def test_add_asset_updates_checksum_files(fake_github: FakeGitHub) -> None:
    """An asset uploaded later gets its sidecar and its SHA256SUMS line, as its mode requires."""
    fake_github.add_release(TAG, [NAME], checksums="sums")
    fake_github.add_asset(TAG, OTHER, b"late")
    assert (
        fake_github.content(TAG, f"{OTHER}.sha256")
        == f"{fake_github.sha256(TAG, OTHER)}\n".encode()
    )
    assert f"  {OTHER}\n".encode() in fake_github.content(TAG, "SHA256SUMS")


async def test_set_content_of_sums_regenerates_nothing(fake_github: FakeGitHub) -> None:
    """Writing SHA256SUMS directly lets a test make upstream's checksum files disagree."""
    fake_github.add_release(TAG, [NAME], checksums="digest")
    fake_github.set_content(TAG, "SHA256SUMS", b"0" * 64 + f"  {NAME}\n".encode())
    assert fake_github.content(TAG, "SHA256SUMS").startswith(b"0" * 64)


async def test_remove_asset_and_release(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """Removing an archive drops its sidecar and SHA256SUMS line; removing a release unlists it."""
    fake_github.add_release(TAG, [NAME, OTHER], checksums="sums")
    fake_github.add_release("20251218", [], checksums="none")
    fake_github.remove_asset(TAG, NAME)
    assert list(fake_github.release(TAG).assets) == [OTHER, f"{OTHER}.sha256", "SHA256SUMS"]
    assert fake_github.content(TAG, "SHA256SUMS") == render_sums(
        {OTHER: fake_github.content(TAG, OTHER)}
    )
    fake_github.remove_release("20251218")
    assert [r["tag_name"] for r in await get_json(http, releases_url(fake_github))] == [TAG]


async def test_open_asset_is_listed_not_served(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """An asset in state open is listed as such, without digest, and its download is 404."""
    fake_github.add_release(TAG, [NAME])
    fake_github.set_asset_state(TAG, NAME, "open")
    (release,) = await get_json(http, releases_url(fake_github))
    (asset,) = [a for a in release["assets"] if a["name"] == NAME]
    assert (asset["state"], asset["digest"]) == ("open", None)
    async with http.get(fake_github.browser_download_url(TAG, NAME)) as response:
        assert response.status == 404


async def test_add_release_from_data_follows_eras(
    fake_github: FakeGitHub, pbs_releases: dict[str, list[dict[str, Any]]]
) -> None:
    """Real names get the checksum files of their tag's era; given checksum names are dropped."""
    for tag, mode in (("20210724", "none"), ("20240726", "sums"), ("20251217", "digest")):
        names = [entry["name"] for entry in pbs_releases[tag]][:3]
        release = fake_github.add_release_from_data(
            tag, [*names, "SHA256SUMS", f"{names[0]}.sha256"]
        )
        assert release.checksums == mode
        assert [
            n for n in release.assets if not n.endswith(".sha256") and n != "SHA256SUMS"
        ] == names


def test_generated_content_is_deterministic() -> None:
    """Generated bytes depend only on the name, are 256..4096 bytes long, and sizes override."""
    assert generated_content(NAME) == generated_content(NAME)
    assert generated_content(NAME) != generated_content(OTHER)
    assert all(256 <= len(generated_content(f"n{i}")) <= 4096 for i in range(50))
    assert len(generated_content(NAME, 10)) == 10


async def test_sizes_and_content_for(fake_github: FakeGitHub) -> None:
    """add_release takes per-name sizes or a content hook for listed names."""
    fake_github.add_release(TAG, [NAME], sizes={NAME: 70_000})
    fake_github.add_release("20251218", [OTHER], content_for=lambda name: name.encode())
    assert len(fake_github.content(TAG, NAME)) == 70_000
    assert fake_github.content("20251218", OTHER) == OTHER.encode()


# ---------------------------------------------------------------------------- downloads


async def test_download_redirects_to_cdn_host(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """browser_download_url answers 302 to a signed URL on another host name serving the bytes."""
    release = fake_github.add_release(TAG, [NAME])
    target = urlsplit(await cdn_url(http, fake_github))
    assert target.netloc == fake_github.cdn_host != fake_github.api_host
    assert target.path == f"/cdn/{release.assets[NAME].id}/{quote(NAME, safe='')}"
    assert re.fullmatch(r"sig=[0-9a-f]{32}", target.query)
    async with http.get(fake_github.browser_download_url(TAG, NAME)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert await response.read() == fake_github.content(TAG, NAME)
    assert [h.status for h in fake_github.downloads(NAME)] == [200]


async def test_range_resume(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """The CDN answers Range: bytes=N- with 206, HEAD with the length, and 416 past the end."""
    fake_github.add_release(TAG, [NAME])
    data = fake_github.content(TAG, NAME)
    url = await cdn_url(http, fake_github)
    async with http.get(url, headers={"Range": "bytes=100-"}) as partial:
        assert partial.status == 206
        assert partial.headers["Content-Range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
        assert await partial.read() == data[100:]
    async with http.head(url) as head:
        assert (head.status, head.headers["Content-Length"]) == (200, str(len(data)))
    async with http.get(url, headers={"Range": f"bytes={len(data)}-"}) as beyond:
        assert beyond.status == 416
        assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    assert [h.status for h in fake_github.downloads(NAME)] == [206]


async def test_unknown_download_is_404(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """An unknown tag or name on the download route answers 404."""
    fake_github.add_release(TAG, [NAME])
    for url in (
        fake_github.browser_download_url(TAG, "nope.tar.gz"),
        fake_github.browser_download_url("1999", NAME),
    ):
        async with http.get(url) as response:
            assert response.status == 404


async def test_cdn_refuses_api_host(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """The CDN refuses its path under the API host name, and a URL without its signature."""
    fake_github.add_release(TAG, [NAME])
    url = await cdn_url(http, fake_github)
    async with http.get(url.replace(fake_github.cdn_host, fake_github.api_host)) as misdirected:
        assert misdirected.status == 421
    async with http.get(url.split("?")[0]) as unsigned:
        assert unsigned.status == 403


async def test_auth_on_cdn_is_recorded(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """A request carrying Authorization to the CDN host gets 400 and is logged as a violation."""
    fake_github.add_release(TAG, [NAME])
    url = await cdn_url(http, fake_github)
    async with http.get(url, headers={"Authorization": "Bearer t0ken"}) as response:
        assert response.status == 400
    (violation,) = fake_github.auth_violations
    assert (violation.host, violation.headers["authorization"]) == (
        fake_github.cdn_host,
        "Bearer t0ken",
    )
    fake_github.auth_violations.clear()  # provoked on purpose: quiet the teardown check


async def test_fail_answers_statuses_in_order(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """fail(name, 502, 503) makes the next two CDN GETs answer those statuses, then the bytes."""
    fake_github.add_release(TAG, [NAME, OTHER])
    fake_github.fail(NAME, 502, 503)
    statuses = []
    for _ in range(3):
        async with http.get(fake_github.browser_download_url(TAG, NAME)) as response:
            statuses.append(response.status)
            body = await response.read()
    assert statuses == [502, 503, 200]
    assert body == fake_github.content(TAG, NAME)
    async with http.get(fake_github.browser_download_url(TAG, OTHER)) as unaffected:
        assert unaffected.status == 200
    assert [h.fault for h in fake_github.hits if h.route == "cdn"] == [
        "status 502",
        "status 503",
        None,
        None,
    ]
    assert len(fake_github.downloads(NAME)) == 1


async def test_truncate_closes_cleanly_short(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """truncate announces the full length, sends half and closes cleanly; then serves it whole."""
    fake_github.add_release(TAG, [NAME])
    data = fake_github.content(TAG, NAME)
    fake_github.truncate(NAME, times=2)
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(fake_github.browser_download_url(TAG, NAME)) as response:
            await response.read()
    head, body, error = await raw_get(fake_github, await cdn_url(http, fake_github))
    assert error is None
    assert (content_length(head), body) == (len(data), data[: len(data) // 2])
    async with http.get(fake_github.browser_download_url(TAG, NAME)) as whole:
        assert await whole.read() == data


async def test_reset_mid_body_resets(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """reset_mid_body announces the full length, sends at most half, then resets the connection."""
    fake_github.add_release(TAG, [NAME])
    data = fake_github.content(TAG, NAME)
    fake_github.reset_mid_body(NAME, times=2)
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(fake_github.browser_download_url(TAG, NAME)) as response:
            await response.read()
    head, body, error = await raw_get(fake_github, await cdn_url(http, fake_github))
    assert isinstance(error, ConnectionResetError)
    assert len(body) <= len(data) // 2
    assert not head or content_length(head) == len(data)
    assert [h.fault for h in fake_github.downloads(NAME)] == ["reset", "reset"]


async def test_corrupt_keeps_length(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """corrupt serves the right length with wrong bytes, once by default, always with times=None."""
    fake_github.add_release(TAG, [NAME, OTHER])
    fake_github.corrupt(NAME)
    fake_github.corrupt(OTHER, times=None)
    bodies: dict[str, list[bytes]] = {NAME: [], OTHER: []}
    for name in (NAME, OTHER):
        for _ in range(2):
            async with http.get(fake_github.browser_download_url(TAG, name)) as response:
                bodies[name].append(await response.read())
    good, other = fake_github.content(TAG, NAME), fake_github.content(TAG, OTHER)
    assert len(bodies[NAME][0]) == len(good)
    assert bodies[NAME][0] != good
    assert bodies[NAME][1] == good
    assert all(len(b) == len(other) and b != other for b in bodies[OTHER])


async def test_stall_holds_until_stop(http: aiohttp.ClientSession) -> None:
    """stall sends part of the body and hangs, setting ``stalled``, until stop() breaks it off."""
    async with FakeGitHub() as fake:
        fake.add_release(TAG, [NAME])
        fake.stall(NAME)

        async def download() -> bytes | aiohttp.ClientPayloadError:
            try:
                async with http.get(fake.browser_download_url(TAG, NAME)) as response:
                    return await response.read()
            except aiohttp.ClientPayloadError as e:
                return e

        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(download())
            await fake.stalled.wait()
            assert not task.done()
            assert [h.fault for h in fake.downloads(NAME)] == ["stall"]
            await fake.stop()
        assert isinstance(task.result(), aiohttp.ClientPayloadError)


async def test_expired_redirect_stays_expired(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """An expired signed URL answers 403 every time; a fresh redirect from upstream works."""
    fake_github.add_release(TAG, [NAME])
    fake_github.expire_redirect(NAME)
    expired = await cdn_url(http, fake_github)
    for _ in range(2):
        async with http.get(expired) as response:
            assert response.status == 403
    async with http.get(fake_github.browser_download_url(TAG, NAME)) as fresh:
        assert (fresh.status, await fresh.read()) == (200, fake_github.content(TAG, NAME))


async def test_ignore_range_sends_everything(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """With ignore_range the CDN answers a Range request with 200 and the whole body."""
    fake_github.add_release(TAG, [NAME])
    fake_github.ignore_range(NAME)
    async with http.get(
        fake_github.browser_download_url(TAG, NAME), headers={"Range": "bytes=100-"}
    ) as r:
        assert r.status == 200
        assert "Content-Range" not in r.headers
        assert await r.read() == fake_github.content(TAG, NAME)


def test_faults_need_a_known_asset() -> None:
    """Scripting a download fault for a name no release holds is a test bug, caught at once."""
    with pytest.raises(KeyError, match="no fake asset"):
        FakeGitHub().fail("typo.tar.gz", 502)


# ---------------------------------------------------------------------------- API faults


async def test_rate_limit_primary(
    fake_github: FakeGitHub, http: aiohttp.ClientSession, fake_clock: FakeClock
) -> None:
    """A primary rate limit answers 403, remaining 0, reset = now + reset_in on the fake clock."""
    fake_github.add_release(TAG, [NAME])
    fake_github.rate_limit(reset_in=60, times=2)
    for _ in range(2):
        async with http.get(releases_url(fake_github)) as response:
            assert response.status == 403
            assert response.headers["x-ratelimit-remaining"] == "0"
            assert response.headers["x-ratelimit-reset"] == str(int(fake_clock() + 60))
            assert "retry-after" not in response.headers
            assert (await response.json())["message"].startswith("API rate limit exceeded")
        fake_clock.advance(5)
    async with http.get(releases_url(fake_github)) as ok:
        assert ok.status == 200
        assert int(ok.headers["x-ratelimit-remaining"]) > 0


async def test_rate_limit_secondary(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """A secondary rate limit (reset_in=None) answers 429 with retry-after, remaining non-zero."""
    fake_github.add_release(TAG, [NAME])
    fake_github.rate_limit(status=429, reset_in=None, retry_after=30)
    url = f"{fake_github.api_url}/repos/{fake_github.repo}/releases/tags/{TAG}"
    async with http.get(url) as response:
        assert response.status == 429
        assert response.headers["retry-after"] == "30"
        assert response.headers["x-ratelimit-remaining"] != "0"
        assert "secondary rate limit" in (await response.json())["message"]


async def test_fail_listing_by_page(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """fail_listing(page=2) faults only page 2, once per status; unpaged faults hit any page."""
    for n in range(3):
        fake_github.add_release(f"2025010{n + 1}", [], checksums="none")
    fake_github.fail_listing(502, page=2)
    fake_github.fail_listing(500)
    statuses = []
    for page in (2, 1, 1, 2):
        async with http.get(releases_url(fake_github, per_page=2, page=page)) as response:
            statuses.append(response.status)
    assert statuses == [502, 500, 200, 200]


async def test_empty_listing(fake_github: FakeGitHub, http: aiohttp.ClientSession) -> None:
    """empty_listing answers [] with 200 and no Link, for as many requests as asked."""
    fake_github.add_release(TAG, [NAME])
    fake_github.empty_listing(times=1)
    async with http.get(releases_url(fake_github)) as response:
        assert (response.status, await response.json()) == (200, [])
        assert "Link" not in response.headers
    assert len(await get_json(http, releases_url(fake_github))) == 1
    fake_github.empty_listing()
    for _ in range(2):
        assert await get_json(http, releases_url(fake_github)) == []


# ---------------------------------------------------------------------------- hit log


async def test_hits_record_every_request(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """Every request is logged with host, decoded path, query, headers and status."""
    fake_github.add_release(TAG, [NAME])
    await get_json(http, releases_url(fake_github, per_page=10))
    async with http.get(
        fake_github.browser_download_url(TAG, NAME), headers={"User-Agent": "probe"}
    ) as r:
        await r.read()
    async with http.get(f"{fake_github.api_url}/nowhere") as r:
        assert r.status == 404
    listing, redirect, cdn, unknown = fake_github.hits
    assert (listing.route, listing.query, listing.status) == ("listing", {"per_page": "10"}, 200)
    assert (redirect.host, redirect.status, redirect.asset) == (fake_github.api_host, 302, NAME)
    assert redirect.path.endswith(f"/releases/download/{TAG}/{NAME}")
    assert (cdn.host, cdn.method, cdn.status, cdn.headers["user-agent"]) == (
        fake_github.cdn_host,
        "GET",
        200,
        "probe",
    )
    assert (unknown.route, unknown.status) == ("unknown", 404)
    assert fake_github.api_hits() == [listing, unknown]
    assert fake_github.downloads() == [cdn]
    fake_github.reset_hits()
    assert fake_github.hits == []


async def test_token_raises_rate_limit(
    fake_github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    """API answers carry x-ratelimit-* headers: 60 an hour anonymously, 5000 with a token."""
    fake_github.add_release(TAG, [NAME])
    async with http.get(releases_url(fake_github)) as anonymous:
        assert anonymous.headers["x-ratelimit-limit"] == "60"
    async with http.get(releases_url(fake_github), headers={"Authorization": "Bearer t"}) as authed:
        assert authed.headers["x-ratelimit-limit"] == "5000"
        assert authed.headers["x-ratelimit-resource"] == "core"


async def test_no_sleep_records_and_advances(no_sleep: NoSleep, fake_clock: FakeClock) -> None:
    """no_sleep records each delay and moves the fake clock by it, without sleeping."""
    start = fake_clock()
    await no_sleep(1.5)
    await no_sleep(60)
    assert no_sleep.delays == [1.5, 60]
    assert fake_clock() == start + 61.5
