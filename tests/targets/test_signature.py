"""targets.signature: the stat digests an idle run compares, of a tree or of named state."""

from __future__ import annotations

from pathlib import Path

from mirrorsync.targets.signature import state_signature

NAMES = ("published", "published.json", "staging")


def state(base: Path) -> None:
    (base / "published" / "20251217").mkdir(parents=True)
    (base / "published" / "20251217" / "SHA256SUMS").write_bytes(b"sums")
    (base / "published.json").write_bytes(b"{}")
    (base / "status.json").write_bytes(b"{}")


async def test_state_signature_sees_only_the_named_entries(tmp_path: Path) -> None:
    """Any change below a named entry (a file rewritten, added, removed; a name appearing)
    changes the signature; files outside them (the run records) do not."""
    state(tmp_path)
    base = await state_signature(tmp_path, NAMES)
    assert base is not None
    assert await state_signature(tmp_path, NAMES) == base
    (tmp_path / "status.json").write_bytes(b'{"status": "success"}')
    (tmp_path / "history.jsonl").write_bytes(b"{}\n")
    assert await state_signature(tmp_path, NAMES) == base
    sums = tmp_path / "published" / "20251217" / "SHA256SUMS"
    seen = {base}

    async def changed() -> bool:
        now = await state_signature(tmp_path, NAMES)
        fresh = now is not None and now not in seen
        seen.add(now or "")
        return fresh

    sums.write_bytes(b"other")
    assert await changed()
    (tmp_path / "published" / "index.json").write_bytes(b"{}")
    assert await changed()
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "x.part").write_bytes(b"x")
    assert await changed()
    sums.unlink()
    assert await changed()
    (tmp_path / "published.json").unlink()
    assert await changed()
