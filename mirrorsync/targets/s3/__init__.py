"""A mirror in an S3 bucket (AWS, MinIO, R2, B2, Ceph): the ``Target`` behind ``target.url``.

The guarantees are the local tree's: assets are downloaded and verified in a local staging area,
then uploaded (a PUT is atomic: readers see the old object or the new one); indexes go after the
files they describe; a failed upload never touches the old object.

Three things differ from a directory:

- **Trust instead of stat** (``known``): the bucket's ``index.json`` is the truth about assets, and
  the small files are remembered in a local state directory while that ``index.json`` is unchanged.
- **The lock is an object** (``lock``): ``PREFIX/.mirrorsync/lock``, created with
  ``If-None-Match: *``, renewed while the run publishes, taken over once expired.
- **aiobotocore is imported only when a bucket is opened** (``client``), so the core works without
  the ``mirrorsync[s3]`` extra; without it a bucket config is a ``ConfigError``.

Modules: ``client`` (the optional dependency, the client and its configuration, what S3 errors
mean), ``known`` (what the run knows of the bucket), ``uploads`` (single PUT and multipart,
checksums), ``lock`` (the lease lock), ``target`` (``S3Target``, composing them). Content types
and Cache-Control come from ``mirrorsync.core.media``, shared with ``serve``.

Contract: the ``targets`` package's (the core and the configuration; never ``net``, ``upstream``,
``publish``, ``commands`` or ``cli``).
"""

from mirrorsync.core.media import content_type
from mirrorsync.targets.s3.client import EXTRA_HINT
from mirrorsync.targets.s3.known import TAG_SMALL_FILES, is_asset
from mirrorsync.targets.s3.lock import LOCK_PATH, LOCK_RENEW_SECONDS, LOCK_TTL
from mirrorsync.targets.s3.target import DELETE_BATCH, SMALL_LIMIT, S3Target, default_state_dir
from mirrorsync.targets.s3.uploads import MAX_PARTS, PARTS_IN_FLIGHT

__all__ = [
    "DELETE_BATCH",
    "EXTRA_HINT",
    "LOCK_PATH",
    "LOCK_RENEW_SECONDS",
    "LOCK_TTL",
    "MAX_PARTS",
    "PARTS_IN_FLIGHT",
    "SMALL_LIMIT",
    "TAG_SMALL_FILES",
    "S3Target",
    "content_type",
    "default_state_dir",
    "is_asset",
]
