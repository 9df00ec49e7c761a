"""A hostile or broken listing: garbled ``Link`` headers and decompression bombs are listing
errors (exit 1) that name the URL; they are never taken for "the last page"."""

from __future__ import annotations

import pytest
from mirror_harness import Mirror

from mirrorsync.errors import UpstreamError
from mirrorsync.upstream.github import MAX_PAGE_BYTES, next_page_url

PAGE = "https://api.example/repos/o/r/releases?per_page=10"
NEXT = "https://api.example/repositories/1/releases?per_page=10&page=2"
ARCHIVE = "cpython-3.13.1+{tag}-x86_64-unknown-linux-gnu-install_only.tar.gz"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),  # the last page has no Link
        ([f'<{NEXT}>; rel="next", <https://api.example/x?page=5>; rel="last"'], NEXT),
        (['<https://api.example/x?page=1>; rel="first"', f'<{NEXT}>; rel="next"'], NEXT),
        ([f"<{NEXT}>; rel=next"], NEXT),  # an unquoted value
        ([f'<{NEXT}>; rel="prev next"'], NEXT),  # several relation types
        (
            ['</repositories/1/releases?page=2>; rel="next"'],
            "https://api.example/repositories/1/releases?page=2",
        ),
        ([f'<{NEXT}>; crossorigin; rel="next"'], NEXT),  # a parameter without a value
        (['<https://api.example/x?page=5>; rel="last"'], None),
    ],
)
def test_next_page_url_follows_rfc_8288(values: list[str], expected: str | None) -> None:
    """Well-formed Link headers give the ``rel="next"`` target, resolved against the page."""
    assert next_page_url(values, page_url=PAGE) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([f'<{NEXT}; rel="next"'], "malformed Link header"),  # no closing ">"
        (["garbage"], "malformed Link header"),
        ([f'<{NEXT}>; rel="next" trailing'], "malformed Link header"),
        ([f'<{NEXT}>; rel="next", junk'], "malformed Link header"),
        ([f'<{NEXT}>; rel="next"', f'<{NEXT}&x=1>; rel="next"'], "names 2 next pages"),
        (['<https://elsewhere.example/r?page=2>; rel="next"'], "points the next page elsewhere"),
        (['<https://api.example:8443/r?page=2>; rel="next"'], "points the next page elsewhere"),
        (['<ftp://api.example/r?page=2>; rel="next"'], "points the next page elsewhere"),
    ],
)
def test_a_garbled_link_header_is_a_listing_error(values: list[str], message: str) -> None:
    """A Link header that does not parse, or leads off the API host, raises naming the page."""
    with pytest.raises(UpstreamError, match=message) as e:
        next_page_url(values, page_url=PAGE)
    assert PAGE in str(e.value)


async def test_a_garbled_link_header_fails_the_run_and_prunes_nothing(mirror: Mirror) -> None:
    """A changed page 1 with a garbled Link exits 1; the releases after it are not pruned."""
    fake = mirror.fake
    tags = [f"202501{day:02d}" for day in range(1, 16)]
    for tag in tags:
        fake.add_release(tag, [ARCHIVE.format(tag=tag)])
    mirror.configure(prune=True, prune_max="100%", upstream={"full_listing_hours": 0})
    assert await mirror.run() == 0
    before = mirror.indexed()
    fake.remove_release(tags[-1])  # page 1 changes: it is read again, with its new Link
    fake.bad_link(1, '<https://api.example/broken; rel="next"')
    with pytest.raises(UpstreamError, match="malformed Link header"):
        await mirror.sync()
    assert mirror.indexed() == before


async def test_a_gzip_bomb_listing_is_refused_with_its_url(mirror: Mirror) -> None:
    """A page that inflates past the cap is refused naming its URL, before it is all in memory."""
    mirror.fake.add_release("20250101", [ARCHIVE.format(tag="20250101")])
    mirror.fake.gzip_bomb(1, MAX_PAGE_BYTES + 1)
    with pytest.raises(UpstreamError, match=r"larger than \d+ bytes \(after decompression\)") as e:
        await mirror.sync()
    assert mirror.fake.api_url.split("//")[1] in str(e.value)
