"""A listing that shifts while it is read: GitHub pages by offset, so releases published or
deleted meanwhile slide between pages. Nothing may be pruned on a listing that was not proven
unchanged, and a release seen twice is fetched once."""

from __future__ import annotations

from fake_github import FakeGitHub
from mirror_harness import Mirror

TAGS = [f"202501{day:02d}" for day in range(1, 26)]  # 25 releases: pages of 10, newest first


def name(tag: str) -> str:
    return f"cpython-3.13.1+{tag}-x86_64-unknown-linux-gnu-install_only.tar.gz"


def publish_all(fake: FakeGitHub) -> None:
    for tag in TAGS:
        fake.add_release(tag, [name(tag)])


async def test_a_release_sliding_onto_a_read_page_is_not_pruned(mirror: Mirror) -> None:
    """A deletion on page 1 while page 2 is read hides a release; it is re-listed, not pruned."""
    fake = mirror.fake
    publish_all(fake)
    mirror.configure(prune=True, prune_max="100%", upstream={"full_listing_hours": 0})
    assert await mirror.run() == 0
    newest, slides = TAGS[-1], TAGS[-11]  # the last release of page 1 moves there from page 2
    fake.before_page(2, lambda: fake.remove_release(newest))
    assert await mirror.run() == 0
    assert f"{slides}/{name(slides)}" in mirror.indexed()
    assert (mirror.root / slides / name(slides)).is_file()
    assert f"{newest}/{name(newest)}" not in mirror.indexed()  # really deleted: pruned


async def test_a_release_seen_on_two_pages_is_fetched_once(mirror: Mirror) -> None:
    """A release published while the pages are read pushes one onto two pages: one download."""
    fake = mirror.fake
    publish_all(fake)
    pushed = TAGS[-10]  # the last release of page 1 becomes the first of page 2
    fake.before_page(2, lambda: fake.add_release("20250126", [name("20250126")]))
    assert await mirror.run() == 0
    assert len([h for h in fake.downloads(name(pushed)) if h.route == "cdn"]) == 1
    assert f"{pushed}/{name(pushed)}" in mirror.indexed()


async def test_a_listing_that_keeps_changing_fails_and_prunes_nothing(mirror: Mirror) -> None:
    """Three listings in a row that change while read: exit 1, and the mirror is untouched."""
    fake = mirror.fake
    publish_all(fake)
    mirror.configure(prune=True, prune_max="100%", upstream={"full_listing_hours": 0})
    assert await mirror.run() == 0
    index_before = (mirror.root / "index.json").read_bytes()
    gone = TAGS[-3:]
    fake.before_page(2, *(lambda tag=tag: fake.remove_release(tag) for tag in gone))
    assert await mirror.run() == 1
    assert (mirror.root / "index.json").read_bytes() == index_before
    assert all((mirror.root / tag / name(tag)).is_file() for tag in TAGS)
    assert mirror.status()["status"] == "failed"


async def test_a_steady_listing_is_checked_with_conditional_requests(mirror: Mirror) -> None:
    """With prune on, each page is asked again with If-None-Match; an unchanged one is a 304."""
    fake = mirror.fake
    publish_all(fake)
    mirror.configure(prune=True, prune_max="100%", upstream={"full_listing_hours": 0})
    assert await mirror.run() == 0
    checks = fake.listing_hits()[3:]  # three pages, then the same three asked again
    assert len(checks) == 3
    assert all(h.status == 304 for h in checks)
