"""Signed download URLs (the CDN redirect with its ``?sig=``) never leave the process: not in
messages, ``--json``, ``status.json`` or ``history.jsonl``. The asset and the host are named."""

from __future__ import annotations

import asyncio
import json

import pytest
from eras import DIGEST, DIGEST_TAG, three_eras
from mirror_harness import Mirror

from mirrorsync.cli import main
from mirrorsync.net.policy import shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://cdn.example/a/b.tar.gz?sig=SECRET&se=1", "https://cdn.example/a/b.tar.gz"),
        ("https://u:pw@cdn.example/x?X-Amz-Signature=SECRET", "https://cdn.example/x"),
        ("https://cdn.example/x#frag", "https://cdn.example/x"),
        ("/relative/x?sig=SECRET", "/relative/x"),
        ("http://[bad/x?sig=SECRET", "http://[bad/x"),  # not even a URL: still cut
    ],
)
def test_shown_urls_carry_no_query_or_credentials(url: str, expected: str) -> None:
    """``shown`` keeps scheme, host and path, and drops query, fragment and credentials."""
    assert shown(url) == expected


async def test_a_failed_download_names_no_signature_anywhere(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CDN 404 after the signed redirect is reported by asset and host, never with ``sig=``."""
    three_eras(mirror.fake)
    mirror.fake.fail(DIGEST[0], 404)
    mirror.configure()
    argv = ["sync", "-c", str(mirror.config_path), "--json"]
    code = await asyncio.to_thread(main, argv, environ={})
    out, err = capsys.readouterr()
    state = mirror.root / ".mirrorsync"
    records = [out, err, (state / "status.json").read_text(), (state / "history.jsonl").read_text()]
    assert code == 1
    failed = json.loads(out)["failed"]
    assert [f["path"] for f in failed] == [f"{DIGEST_TAG}/{DIGEST[0]}"]
    assert "404" in failed[0]["error"]
    assert "localhost" in failed[0]["error"]
    assert all("sig=" not in text for text in records)
