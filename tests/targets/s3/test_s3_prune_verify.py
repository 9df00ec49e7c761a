"""Prune and verify on a bucket: only self-listed keys go, in batches; verify finds damage."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from s3_harness import PREFIX, S3Mirror

from mirrorsync.cli import main
from mirrorsync.commands import verify as verifying
from mirrorsync.commands.verify import VerifyReport
from mirrorsync.config.load import load_config
from mirrorsync.targets.open import open_target

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-x86_64-pc-windows-msvc-install_only_stripped.tar.gz",
    "cpython-3.12.12+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
]
LINUX = f"{TAG}/{NAMES[0]}"
MAC = f"{TAG}/{NAMES[1]}"


async def synced(mirror: S3Mirror, **settings: Any) -> None:
    mirror.fake.add_release(TAG, NAMES)
    mirror.configure(**settings)
    assert (await mirror.sync()).exit_code == 0


async def verify(mirror: S3Mirror, *, full: bool = False) -> VerifyReport:
    return await verifying.verify(open_target(load_config(mirror.config_path)), full=full)


def kinds(report: VerifyReport) -> list[tuple[str, str]]:
    return [(p.path, p.kind) for p in report.problems]


async def test_prune_deletes_only_what_the_index_listed(s3_mirror: S3Mirror) -> None:
    """Deselected archives go in one DeleteObjects batch; an operator's object under the prefix
    and keys outside it stay; the indexes stop naming the pruned file."""
    await synced(s3_mirror)
    await s3_mirror.bucket.put("notes.txt", b"the operator's")
    await s3_mirror.bucket.client.put_object(
        Bucket=s3_mirror.bucket.name, Key=f"elsewhere/{TAG}/{NAMES[1]}", Body=b"x"
    )
    s3_mirror.configure(select={"exclude": ["*-aarch64-apple-darwin-*"]}, prune=True)
    s3_mirror.proxy.clear()
    outcome = await s3_mirror.sync()
    assert outcome.exit_code == 0
    assert outcome.report.pruned == 1
    files = await s3_mirror.bucket.files()
    assert MAC not in files
    assert {LINUX, "notes.txt"} <= files
    assert f"elsewhere/{TAG}/{NAMES[1]}" in await s3_mirror.bucket.keys("elsewhere/")
    assert MAC not in await s3_mirror.indexed()
    assert NAMES[1] not in (await s3_mirror.bucket.get(f"{TAG}/SHA256SUMS")).decode()
    batches = [h for h in s3_mirror.proxy.hits if h.method == "POST" and h.query == "delete"]
    assert len(batches) == 1
    assert not [h for h in s3_mirror.proxy.hits if h.method == "DELETE" and ".tar." in h.path]


async def test_prune_guard_refuses_and_deletes_nothing(s3_mirror: S3Mirror) -> None:
    """A prune over prune_max exits 2 and leaves every object in the bucket."""
    await synced(s3_mirror)
    s3_mirror.configure(select={"python": ["3.12"]}, prune=True, prune_max=1)
    outcome = await s3_mirror.sync()
    assert outcome.exit_code == 2
    assert {f"{TAG}/{n}" for n in NAMES} <= await s3_mirror.bucket.files()


@pytest.mark.parametrize("full", [False, True])
async def test_a_clean_bucket_verifies(s3_mirror: S3Mirror, *, full: bool) -> None:
    """Right after a sync, verify (fast and full) finds nothing."""
    await synced(s3_mirror)
    report = await verify(s3_mirror, full=full)
    assert report.problems == ()
    assert report.files_checked == len(NAMES)
    expected = sum(
        len(a.data) for a in s3_mirror.fake.release(TAG).assets.values() if ".tar." in a.name
    )
    assert report.bytes_hashed == (expected if full else 0)


async def test_verify_reports_each_kind_of_damage(s3_mirror: S3Mirror) -> None:
    """Missing, resized, wrong metadata, stray objects, a wrong SHA256SUMS and an unfinished
    upload are each reported; the same-size swap only --full sees."""
    await synced(s3_mirror)
    bucket = s3_mirror.bucket
    await bucket.client.delete_object(Bucket=bucket.name, Key=bucket.key(LINUX))
    await bucket.put(MAC, b"short", Metadata={"sha256": "0" * 64})
    win = f"{TAG}/{NAMES[2]}"
    original = await bucket.get(win)
    meta = (await bucket.head(win))["Metadata"]
    await bucket.put(win, bytes(len(original)), Metadata=meta)  # same size, same metadata
    await bucket.put(f"{TAG}/stray.tar.gz", b"?")
    await bucket.put(f"{TAG}/SHA256SUMS", b"")
    await bucket.client.create_multipart_upload(Bucket=bucket.name, Key=f"{PREFIX}/{TAG}/half")
    fast = kinds(await verify(s3_mirror))
    assert fast == sorted(
        [
            (f"{TAG}/SHA256SUMS", "sums"),
            (LINUX, "missing"),
            (MAC, "size"),
            (f"{TAG}/half", "leftover"),
            (f"{TAG}/stray.tar.gz", "unlisted"),
        ]
    )
    full = kinds(await verify(s3_mirror, full=True))
    assert sorted(full) == sorted([*fast, (win, "sha256")])


async def test_verify_cli_routes_a_bucket_config_and_repairs_it(
    s3_mirror: S3Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """`verify -c FILE` on a bucket config checks the bucket (exit 1 on damage); --repair
    quarantines the damaged object, re-uploads it and ends clean (exit 0)."""
    await synced(s3_mirror)
    bucket = s3_mirror.bucket
    good = await bucket.get(LINUX)
    await bucket.put(LINUX, b"damaged", Metadata={"sha256": "1" * 64})
    argv = ["verify", "--json", "-q", "-c", str(s3_mirror.config_path)]
    assert await asyncio.to_thread(main, argv) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [(p["path"], p["kind"]) for p in doc["problems"]] == [(LINUX, "size")]
    assert await asyncio.to_thread(main, [*argv, "--repair"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "ok"
    assert any(a.startswith(f"quarantined {LINUX}") for a in doc["repaired"])
    assert await bucket.get(LINUX) == good
    quarantined = list(await bucket.keys(f"{PREFIX}/.mirrorsync/quarantine/"))
    assert len(quarantined) == 1
    assert quarantined[0].endswith(NAMES[0])
