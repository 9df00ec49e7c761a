"""core.idle: when a run may skip its work, and the proof a successful run leaves."""

from __future__ import annotations

import json

import pytest

from mirrorsync.core.idle import (
    IdleProof,
    bucket_digest,
    config_fingerprint,
    idle_reason,
    listing_digest,
    parse_proof,
    render_proof,
    tree_digest,
)

PROOF = IdleProof(
    config="c", listing="l", tree="t", files=3, size=30, client_files="f", notes=("n",)
)


OK = {"last_status": "success", "config": "c", "listing": "l", "tree": "t"}


@pytest.mark.parametrize(
    ("proof", "change", "reason"),
    [
        (PROOF, {}, None),
        (None, {}, "no proof of an idle mirror from the last run"),
        (PROOF, {"last_status": "partial"}, "the last run did not succeed"),
        (PROOF, {"last_status": None}, "the last run did not succeed"),
        (PROOF, {"config": "other"}, "the configuration or the program changed"),
        (PROOF, {"listing": None}, "the upstream listing changed"),
        (
            PROOF,
            {"listing": "other"},
            "the upstream listing is not the one the last run planned",
        ),
        (PROOF, {"tree": None}, "the target cannot tell whether its tree changed"),
        (PROOF, {"tree": "other"}, "the tree changed since the last run"),
    ],
)
def test_idle_reason(
    proof: IdleProof | None, change: dict[str, str | None], reason: str | None
) -> None:
    """A run is idle only after a success, with config, listing and tree all matching the
    proof; else it says why."""
    given = {**OK, **change}
    assert (
        idle_reason(
            proof,
            last_status=given["last_status"],
            config=given["config"] or "",
            listing=given["listing"],
            tree=given["tree"],
        )
        == reason
    )


def test_proof_round_trips() -> None:
    """A rendered proof parses back to itself; the well-formed document used below parses."""
    assert parse_proof(json.dumps(GOOD).encode()) is not None
    assert parse_proof(render_proof(PROOF)) == PROOF
    bare = IdleProof(config="c", listing="l", tree="t", files=0, size=0)
    assert parse_proof(render_proof(bare)) == bare


GOOD = {
    "format": 1,
    "config": "c",
    "listing": "l",
    "tree": "t",
    "files": 1,
    "size": 1,
    "client_files": None,
    "notes": [],
}


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        *(
            json.dumps({**GOOD, **change}).encode()
            for change in (
                {"format": 2},
                {"config": None},
                {"files": -1},
                {"files": True},
                {"size": "1"},
                {"notes": "n"},
                {"notes": [1]},
                {"client_files": 3},
            )
        ),
    ],
)
def test_damaged_proof_is_no_proof(data: bytes) -> None:
    """Anything but a well-formed proof reads as none: the run then plans as usual."""
    assert parse_proof(data) is None


def test_tree_digest_sees_every_field() -> None:
    """The tree digest is the same for the same rows and changes with path, size, mtime, inode."""
    rows = [("a/x", 1, 2, 3), ("b/y", 4, 5, 6)]
    assert tree_digest(rows) == tree_digest(list(rows))
    for changed in (("a/z", 1, 2, 3), ("a/x", 9, 2, 3), ("a/x", 1, 9, 3), ("a/x", 1, 2, 9)):
        assert tree_digest([changed, rows[1]]) != tree_digest(rows)
    assert tree_digest(rows[:1]) != tree_digest(rows)


def test_listing_and_config_digests_see_every_part() -> None:
    """The listing digest changes with any page's URL, ETag or body; the fingerprint with
    the config or the program."""
    pages = [("u1", "e1", "b1"), ("u2", "e2", "b2")]
    base = listing_digest(pages)
    for other in ([("u1", "e1", "b1")], [("u1", "e1", "b1"), ("u2", "e2", "bX")]):
        assert listing_digest(other) != base
    assert listing_digest(pages) == base
    assert config_fingerprint("a", generator="g1") != config_fingerprint("a", generator="g2")
    assert config_fingerprint("a", generator="g") != config_fingerprint("b", generator="g")


@pytest.mark.parametrize(
    ("etag", "state"),
    [('"e2"', "s"), (None, "s"), ("", "s"), ('"e"', "s2"), ("absent", "s"), ("None", "s")],
)
def test_bucket_digest_sees_the_etag_and_the_local_state(etag: str | None, state: str) -> None:
    """A bucket's signature changes with its index.json's ETag (absent is no ETag, not even one
    spelled like it) and with the digest of what this machine keeps of it."""
    base = bucket_digest('"e"', "s")
    assert bucket_digest('"e"', "s") == base
    assert bucket_digest(etag, state) != base
    assert bucket_digest(None, "s") not in {bucket_digest(t, "s") for t in ("", "absent", "None")}
