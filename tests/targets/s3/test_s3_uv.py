"""uv on the stick (``bundle.uv``) into a bucket: the same ``uv/<version>/`` objects, verified
and repaired through the Target seam like any other."""

from __future__ import annotations

from s3_harness import S3Mirror
from uv_fixture import publish_uv_release, uv_repo

from mirrorsync.commands import verify as verifying
from mirrorsync.config.load import load_config
from mirrorsync.core.media import CACHE_CONTROL, CacheClass
from mirrorsync.targets.open import open_target

TAG = "20251217"
NAME = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
UV = "uv/0.9.28/uv-x86_64-unknown-linux-gnu.tar.gz"


async def test_uv_archives_go_to_the_bucket_and_verify(s3_mirror: S3Mirror) -> None:
    """A bucket gets uv/<version>/<archive> (sha256 metadata, immutable caching) and its
    SHA256SUMS; index.json lists it under uv; verify --full is clean, and finds a swapped
    object of the same size; an idle rerun uploads nothing."""
    s3_mirror.fake.add_release(TAG, [NAME])
    publish_uv_release(s3_mirror.fake, "0.9.28")
    s3_mirror.configure(
        select={"platforms": ["x86_64-unknown-linux-gnu"]}, bundle={"uv": ["0.9.28"]}
    )
    assert (await s3_mirror.sync()).exit_code == 0
    bucket = s3_mirror.bucket
    data = uv_repo(s3_mirror.fake).content("0.9.28", UV.rsplit("/", 1)[1])
    assert await bucket.get(UV) == data
    head = await bucket.head(UV)
    assert head["CacheControl"] == CACHE_CONTROL[CacheClass.IMMUTABLE]
    assert b"uv-x86_64-unknown-linux-gnu.tar.gz" in await bucket.get("uv/0.9.28/SHA256SUMS")
    assert [e["path"] for e in (await s3_mirror.index())["uv"]] == [UV]
    target = open_target(load_config(s3_mirror.config_path))
    assert (await verifying.verify(target, full=True)).ok
    s3_mirror.proxy.clear()
    assert (await s3_mirror.sync()).exit_code == 0
    assert [h.path for h in s3_mirror.proxy.puts() if "/.mirrorsync/" not in h.path] == []
    await bucket.put(UV, bytes(len(data)), Metadata=head["Metadata"])
    report = await verifying.verify(open_target(load_config(s3_mirror.config_path)), full=True)
    assert [(p.path, p.kind) for p in report.problems] == [(UV, "sha256")]
