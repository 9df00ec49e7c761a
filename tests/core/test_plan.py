"""The decisions around a plan: the empty-listing guard, the prune guard, how a run settles."""

from __future__ import annotations

import hashlib

import pytest
from selection_table import make_asset

from mirrorsync.config.records import PruneMax
from mirrorsync.core.manifest import entry_for
from mirrorsync.core.model import IndexEntry, Plan, Release
from mirrorsync.core.plan import check_listing, plan_exit, prune_refusal, settle
from mirrorsync.errors import GuardRefused

TAG = "20240726"
H = hashlib.sha256(b"x").hexdigest()


def entries(n: int) -> tuple[IndexEntry, ...]:
    """``n`` distinct index entries of one release, sorted by path."""
    names = [
        f"cpython-3.12.{i}+{TAG}-x86_64-unknown-linux-gnu-install_only.tar.gz" for i in range(n)
    ]
    return tuple(
        sorted(
            (entry_for(make_asset(TAG, name), sha256=H, size=1) for name in names),
            key=lambda e: e.path,
        )
    )


def plan(*, prune: int = 0, missing: tuple[str, ...] = ()) -> Plan:
    return Plan(fetch=(), keep=(), prune=entries(prune), missing_tags=missing)


def test_an_empty_listing_is_refused_with_a_hint() -> None:
    """No release upstream is a refusal (exit 2) that names the source and says what to check."""
    with pytest.raises(GuardRefused, match="listing of owner/repo is empty") as info:
        check_listing([], description="owner/repo")
    assert info.value.exit_code == 2
    assert "upstream.repo" in (info.value.hint or "")


def test_a_listing_with_a_release_passes() -> None:
    """One release is enough for the listing guard."""
    check_listing([Release(tag=TAG)], description="owner/repo")


@pytest.mark.parametrize(
    ("missing", "code"), [((), 0), (("20990101",), 1), (("20990101", "20990102"), 1)]
)
def test_plan_exit(missing: tuple[str, ...], code: int) -> None:
    """``plan`` exits 1 exactly when a tag named in releases.tags is missing upstream."""
    assert plan_exit(plan(missing=missing)) == code


@pytest.mark.parametrize(
    ("prune", "total", "prune_max", "refused"),
    [
        (0, 0, PruneMax(), False),  # nothing to delete: always allowed
        (25, 100, PruneMax(), False),  # the default 25 % exactly
        (26, 100, PruneMax(), True),  # one more than 25 %
        (1, 3, PruneMax(), True),  # 25 % of 3 rounds down to 0
        (1, 3, PruneMax(percent=50.0), False),
        (3, 3, PruneMax(percent=100.0), False),
        (5, 10, PruneMax(count=5, percent=None), False),  # a count is absolute
        (6, 10, PruneMax(count=5, percent=None), True),
        (1, 1000, PruneMax(count=0, percent=None), True),  # count 0: never prune
    ],
)
def test_prune_refusal(*, prune: int, total: int, prune_max: PruneMax, refused: bool) -> None:
    """A prune is refused exactly when it deletes more files than prune_max allows."""
    message = prune_refusal(entries(prune), total_files=total, prune_max=prune_max)
    assert (message is not None) == refused


def test_a_refused_prune_says_how_many_the_limit_and_names_five() -> None:
    """The refusal gives the count, the total, the limit and the first five paths."""
    doomed = entries(7)
    message = prune_refusal(doomed, total_files=10, prune_max=PruneMax(count=2, percent=None))
    assert message is not None
    assert message.startswith("prune refused: it would delete 7 of 10 files, more than ")
    assert "prune_max allows (2)" in message
    assert all(e.path in message for e in doomed[:5])
    assert all(e.path not in message for e in doomed[5:])


@pytest.mark.parametrize(
    ("failed", "missing", "prune_on", "n_prune", "total", "expect"),
    [
        # (exit code, status, refused?, files pruned)
        (False, (), False, 0, 4, (0, "success", False, 0)),
        (False, (), False, 3, 4, (0, "success", False, 0)),  # prune off: nothing goes
        (False, (), True, 1, 4, (0, "success", False, 1)),
        (False, (), True, 3, 4, (2, "refused", True, 0)),  # the guard: 3 > 25 % of 4
        (True, (), True, 1, 4, (1, "partial", False, 0)),  # a failure: never prune
        (False, ("20990101",), True, 1, 4, (1, "partial", False, 0)),  # a missing tag too
        (True, (), True, 3, 4, (1, "partial", False, 0)),  # failure wins over the guard
    ],
)
def test_settle(
    *,
    failed: bool,
    missing: tuple[str, ...],
    prune_on: bool,
    n_prune: int,
    total: int,
    expect: tuple[int, str, bool, int],
) -> None:
    """A run prunes only if nothing failed, no tag is missing, prune is on and the guard allows."""
    settled = settle(
        plan(prune=n_prune, missing=missing),
        failed=failed,
        prune=prune_on,
        prune_max=PruneMax(),
        total_files=total,
    )
    got = (settled.exit_code, settled.status, settled.refused is not None, len(settled.prune))
    assert got == expect
