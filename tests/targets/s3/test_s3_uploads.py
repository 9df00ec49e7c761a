"""Uploads on real servers: multipart, server-verified checksums, anonymous reads with %2B."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import aiohttp
import pytest
from s3_harness import PREFIX, Bucket, S3Mirror, S3Server, sha256
from yarl import URL

from mirrorsync.errors import AssetError
from mirrorsync.targets.s3 import S3Target

TAG = "20251217"
BIG = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst"
SMALL = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
MIB = 1 << 20
BIG_SIZE = 11 * MIB + 17  # three parts of 5 MiB, the last one short


async def test_large_files_are_uploaded_in_parts(s3_mirror: S3Mirror) -> None:
    """A file over the threshold goes up in bounded parts that reassemble to the exact bytes,
    with its sha256 metadata and type; no upload is left open."""
    s3_mirror.fake.add_release(TAG, [BIG, SMALL], sizes={BIG: BIG_SIZE})
    s3_mirror.configure(target={"multipart_threshold": "5Mi", "part_size": "5Mi"})
    assert (await s3_mirror.sync()).exit_code == 0
    key = f"{TAG}/{BIG}"
    data = await s3_mirror.bucket.get(key)
    assert data == s3_mirror.fake.release(TAG).assets[BIG].data
    head = await s3_mirror.bucket.head(key)
    assert head["Metadata"]["sha256"] == sha256(data)
    assert head["ContentType"] == "application/zstd"
    parts = [h for h in s3_mirror.proxy.hits if "partNumber=" in h.query]
    assert sorted(h.query.split("partNumber=")[1].split("&")[0] for h in parts) == ["1", "2", "3"]
    assert all(int(h.headers["content-length"]) <= 5 * MIB for h in parts)
    assert all("x-amz-checksum-sha256" in h.headers for h in parts)
    small_puts = [h for h in s3_mirror.proxy.puts() if "install_only" in h.path]
    assert len(small_puts) == 1  # under the threshold: one PUT
    assert await s3_mirror.bucket.pending_uploads() == []


async def test_a_failed_part_aborts_the_upload_and_keeps_nothing(s3_mirror: S3Mirror) -> None:
    """A part that fails ends in AbortMultipartUpload: no object, no upload left, exit 1."""
    s3_mirror.fake.add_release(TAG, [BIG], sizes={BIG: BIG_SIZE})
    s3_mirror.configure(
        target={"multipart_threshold": "5Mi", "part_size": "5Mi"}, download={"retries": 0}
    )
    s3_mirror.proxy.fail("PUT", r"partNumber=2", 500)
    outcome = await s3_mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"{TAG}/{BIG}"]
    assert f"{TAG}/{BIG}" not in await s3_mirror.bucket.files()
    assert await s3_mirror.bucket.pending_uploads() == []
    assert any(h.method == "DELETE" and "uploadId=" in h.query for h in s3_mirror.proxy.hits)


async def test_the_server_rejects_a_wrong_sha256(
    seaweed_bucket: Bucket, seaweed_server: S3Server, tmp_path: Path
) -> None:
    """Bytes that differ from the sha256 sent with them are refused by the server (SeaweedFS
    checks x-amz-checksum-sha256): the object never appears and the failure is the file's own."""
    target = S3Target(
        bucket=seaweed_bucket.name,
        prefix=PREFIX,
        state_dir=tmp_path / "state",
        endpoint_url=seaweed_server.endpoint,
        region="us-east-1",
        retries=0,
    )
    staged = tmp_path / "staged.part"
    staged.write_bytes(b"what was verified" * 100)
    wrong = hashlib.sha256(b"something else").hexdigest()
    async with target.connect():
        with pytest.raises(AssetError, match=r"upload to .* failed: BadDigest"):
            await target.publish(staged, f"{TAG}/{SMALL}", sha256=wrong)
        await target.publish(staged, f"{TAG}/{SMALL}", sha256=sha256(staged.read_bytes()))
    assert target.requests["PutObject"] == 2
    assert await seaweed_bucket.files() == {f"{TAG}/{SMALL}"}


async def test_anonymous_get_with_2b_returns_the_exact_bytes(seaweed_mirror: S3Mirror) -> None:
    """With a public-read bucket policy, a plain HTTP GET of <tag>/<name with %2B> (what uv
    sends) returns the archive byte for byte, as application/gzip without Content-Encoding."""
    seaweed_mirror.fake.add_release(TAG, [SMALL])
    assert (await seaweed_mirror.sync()).exit_code == 0
    bucket = seaweed_mirror.bucket
    url = URL(
        f"{bucket.server.endpoint}/{bucket.name}/{PREFIX}/{TAG}/{SMALL.replace('+', '%2B')}",
        encoded=True,
    )
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.get(url) as before:
            assert before.status == 403  # private until the policy says otherwise
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket.name}/{PREFIX}/*"],
                }
            ],
        }
        await bucket.client.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(policy))
        async with http.get(url) as response:
            body = await response.read()
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/gzip"
            assert "Content-Encoding" not in response.headers
    assert body == seaweed_mirror.fake.release(TAG).assets[SMALL].data
