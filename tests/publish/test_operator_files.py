"""mirrorsync only ever overwrites or deletes files it wrote itself: an operator's files in the
mirror's root, or a release directory linked out of the root, are never written through."""

from __future__ import annotations

import logging

import pytest
from eras import DIGEST, DIGEST_TAG, three_eras
from mirror_harness import Mirror

from mirrorsync.errors import ConfigError

OPERATOR = b"the operator's own file\n"


async def test_a_first_sync_refuses_a_directory_with_files_it_would_overwrite(
    mirror: Mirror,
) -> None:
    """A non-empty directory that is no mirrorsync tree, holding README.txt, index.html and a
    release page, is refused (exit 2) naming them; nothing is written or downloaded."""
    three_eras(mirror.fake)
    mirror.configure()
    (mirror.root / DIGEST_TAG).mkdir(parents=True)
    for rel in ("README.txt", "index.html", f"{DIGEST_TAG}/index.html"):
        (mirror.root / rel).write_bytes(OPERATOR)
    (mirror.root / "photos.html").write_bytes(OPERATOR)  # not a name mirrorsync writes
    with pytest.raises(ConfigError) as refused:
        await mirror.sync()
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert "README.txt, index.html, 20251217/index.html" in message
    assert "photos.html" not in message
    assert not (mirror.root / ".mirrorsync").exists()
    assert mirror.fake.downloads() == []


async def test_a_client_file_changed_by_the_operator_is_kept(
    mirror: Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """A README.txt the operator rewrote after a sync is kept, with a warning; mirrorsync's
    other files are still refreshed."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await mirror.run() == 0
    (mirror.root / "README.txt").write_bytes(OPERATOR)
    mirror.fake.add_asset(DIGEST_TAG, DIGEST[0].replace("x86_64-unknown", "riscv64-unknown"))
    caplog.set_level(logging.WARNING, logger="mirrorsync")
    assert await mirror.run() == 0
    assert (mirror.root / "README.txt").read_bytes() == OPERATOR
    assert any("README.txt: not written by mirrorsync" in r.getMessage() for r in caplog.records)
    assert b"riscv64" in (mirror.root / "download-metadata.json").read_bytes()


async def test_a_feature_turned_off_deletes_only_what_mirrorsync_wrote(mirror: Mirror) -> None:
    """Turning the offline scripts off removes mirrorsync's script, but not one the operator
    changed."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await mirror.run() == 0
    (mirror.root / "use-mirror.ps1").write_bytes(OPERATOR)
    mirror.configure(publish={"offline_scripts": False})
    assert await mirror.run() == 0
    assert not (mirror.root / "use-mirror.sh").exists()
    assert (mirror.root / "use-mirror.ps1").read_bytes() == OPERATOR


async def test_a_legacy_tree_keeps_its_client_files_up_to_date(mirror: Mirror) -> None:
    """A tree written before mirrorsync kept its record still counts its client files as its
    own: they are refreshed, and from then on recorded."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await mirror.run() == 0
    (mirror.root / ".mirrorsync" / "client-files.json").unlink()
    (mirror.root / "download-metadata.json").write_bytes(b"[]\n")  # stale, but mirrorsync's
    mirror.fake.add_asset(DIGEST_TAG, DIGEST[0].replace("x86_64-unknown", "riscv64-unknown"))
    assert await mirror.run() == 0
    assert b"riscv64" in (mirror.root / "download-metadata.json").read_bytes()
    assert (mirror.root / ".mirrorsync" / "client-files.json").is_file()


async def test_a_release_directory_linked_out_of_the_root_is_not_written_through(
    mirror: Mirror,
) -> None:
    """When <tag>/ is a symbolic link leading outside the root, nothing is written there: the
    release's new file fails (exit 1) and the linked directory is untouched."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await mirror.run() == 0
    outside = mirror.base / "outside"
    (mirror.root / DIGEST_TAG).rename(outside)
    (mirror.root / DIGEST_TAG).symlink_to(outside)
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    new = DIGEST[0].replace("x86_64-unknown", "riscv64-unknown")
    mirror.fake.add_asset(DIGEST_TAG, new)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"{DIGEST_TAG}/{new}"]
    assert "symbolic link" in outcome.report.failed[0].error
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before
