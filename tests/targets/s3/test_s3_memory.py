"""A 200 MB archive through ``mirrorsync sync`` into SeaweedFS: memory stays flat.

The run is a real ``python -m mirrorsync`` process (the fake GitHub serves it from this one), so
its peak RSS is its own. It prints its S3 request counts, which the closing note of the S3 issue
reports.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from fake_github import FakeGitHub
from s3_harness import PREFIX, REGION, Bucket, S3Server, sha256

TAG = "20251217"
BIG = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst"
SIZE = 200 * 10**6
RSS_LIMIT = 128 << 20
"""Well under the file's 200 MB (measured: ~90 MiB, of which ~67 MiB is the interpreter with
aiohttp and botocore loaded): parts are streamed from the staging file, never held whole."""
MEASURE = """
import json, sys
from mirrorsync.cli import main
code = main(sys.argv[2:])
# VmHWM, not getrusage's ru_maxrss: that one survives exec and would count the forked pytest.
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
with open(sys.argv[1], "w") as f:
    json.dump({"exit": code, "peak_rss": peak}, f)
"""
REQUESTS = re.compile(r": (\d+) S3 requests \((.*)\)")


async def run_measured(config: Path, out: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """One `mirrorsync sync -c config` in its own process: (exit, peak RSS), S3 requests by op."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        MEASURE,
        str(out),
        "sync",
        "-c",
        str(config),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
    )
    _, stderr = await process.communicate()
    log = stderr.decode()
    found = REQUESTS.search(log)
    assert found is not None, log
    counts = {op: int(n) for op, n in (p.split() for p in found[2].split(", "))}
    return json.loads(await asyncio.to_thread(out.read_text)), counts


async def test_a_200_mb_archive_streams_through_with_flat_memory(
    fake_github: FakeGitHub, seaweed_bucket: Bucket, seaweed_server: S3Server, tmp_path: Path
) -> None:
    """A 200 MB archive is uploaded in parts with peak RSS far below its size; the no-op run
    after it sends four requests: the lock (PUT, DELETE), the upload listing, a HEAD of
    index.json (the idle proof)."""
    fake_github.add_release(TAG, [BIG], sizes={BIG: SIZE})
    config = tmp_path / "mirror.yaml"
    doc = {
        "upstream": {"api_url": fake_github.api_url},
        "target": {
            "url": f"s3://{seaweed_bucket.name}/{PREFIX}",
            "endpoint_url": seaweed_server.endpoint,
            "region": REGION,
            "state_dir": str(tmp_path / "state"),
        },
    }
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    first, counts = await run_measured(config, tmp_path / "first.json")
    assert first["exit"] == 0
    head = await seaweed_bucket.head(f"{TAG}/{BIG}")
    assert head["ContentLength"] == SIZE
    assert head["Metadata"]["sha256"] == sha256(fake_github.release(TAG).assets[BIG].data)
    assert counts["UploadPart"] == 24  # 200 MB in 8 MiB parts
    assert first["peak_rss"] < RSS_LIMIT, first
    again, noop = await run_measured(config, tmp_path / "again.json")
    assert again["exit"] == 0
    assert noop == {"PutObject": 1, "ListMultipartUploads": 1, "HeadObject": 1, "DeleteObject": 1}
    sys.stderr.write(
        f"\n200 MB sync: peak RSS {first['peak_rss'] / 2**20:.1f} MiB, requests {counts}; "
        f"no-op: peak RSS {again['peak_rss'] / 2**20:.1f} MiB, requests {noop}\n"
    )
