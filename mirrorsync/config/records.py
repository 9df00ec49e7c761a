"""The validated configuration as frozen records (parsed from YAML by ``config.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ASTRAL_INDEX_URL = (
    "https://releases.astral.sh/github/versions/main/v1/python-build-standalone.ndjson"
)
"""Where the ``astral`` source reads its NDJSON index by default."""
ASTRAL_DOWNLOAD_URL = "https://releases.astral.sh/github/python-build-standalone/releases/download"
"""``download_url``'s default for the ``astral`` source (``github``: none, GitHub itself)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamConfig:
    source: str = "github"
    repo: str = "astral-sh/python-build-standalone"
    api_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"  # noqa: S105 - the name of a variable, not a secret
    uv_repo: str = "astral-sh/uv"
    """``github``: the repository of uv's releases (``bundle.uv``), at the same ``api_url``."""
    full_listing_hours: float = 24.0
    """Hours an unchanged first listing page vouches for the cached later pages; 0 = never."""
    download_url: str | None = None
    """A base replacing each archive's own URL: ``<base>/<tag>/<name>`` (no trailing ``/``);
    None = the asset's own URL (``github``: GitHub itself; ``astral``: the index's ``url``).
    Its default follows the source: none for ``github``, ``ASTRAL_DOWNLOAD_URL`` for ``astral``
    (the configuration fills it in)."""
    fallback: bool = True
    """With ``download_url``: when the base answers 404, fetch the asset's own URL."""
    index_url: str = ASTRAL_INDEX_URL
    """``astral``: the NDJSON index of every release with published checksums."""
    url: str | None = None
    """``mirror``: the root of another mirrorsync mirror: an http(s) URL (no trailing ``/``) or
    an absolute local directory (a ``file://`` URL or a path, resolved against the config file)."""

    def manifest(self) -> dict[str, str]:
        """The ``upstream`` object of ``index.json``: the source and where it is."""
        if self.source == "mirror":
            return {"source": self.source, "url": self.url or ""}
        if self.source == "astral":
            made = {"source": self.source, "index_url": self.index_url}
            if self.download_url is not None:
                made["download_url"] = self.download_url
            return made
        made = {"source": self.source, "repo": self.repo}
        if self.download_url is not None:
            made["download_url"] = self.download_url
        return made

    def label(self) -> str:
        """Which upstream, in words, for the root page."""
        if self.source == "mirror":
            return f"the mirrorsync mirror at {self.url}"
        if self.source == "astral":
            where = self.download_url or "the URLs it lists"
            return f"Astral's release index {self.index_url}, downloaded from {where}"
        made = f"the GitHub releases of {self.repo}"
        if self.download_url is not None:
            made += f", downloaded from {self.download_url}"
        return made

    def describe(self) -> str:
        """One line naming the upstream (``status.json``'s ``upstream``, the root page)."""
        if self.source == "mirror":
            return self.url or ""
        if self.source == "astral":
            return self.index_url
        return f"{self.api_url}/repos/{self.repo}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleasesConfig:
    latest: int | None = 1
    """The newest N releases; None means no limit. Already resolved against since/tags."""
    since: str | None = None
    """Normalised ``YYYYMMDD``: only tags on or after it."""
    tags: tuple[str, ...] = ()
    """When non-empty, exactly these tags (latest and since are then ignored)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectConfig:
    python: tuple[str, ...] = ()
    prereleases: bool = False
    latest_patch: bool = False
    platforms: tuple[str, ...] = ()
    flavors: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    builds: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    uv_metadata: str | None = None
    """A uv download list (an absolute path or an http(s) URL): keep only what it references."""


FLAT_COPY = "copy"
"""``publish.flat``'s third value: real copies instead of hard links."""
CHECKSUMS = ("sha256", "md5", "none")
"""What an S3 upload sends for the server to verify (``target.checksum``)."""
ADDRESSING_STYLES = ("auto", "path", "virtual")
CACHE_KINDS = ("archives", "indexes")
"""The objects ``target.cache_control`` can override: immutable archives, everything else."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetConfig:
    path: Path = Path("mirror")
    """The local mirror root; unused when ``url`` names a bucket."""
    url: str | None = None
    """``s3://BUCKET/PREFIX`` (normalised: no trailing ``/``), instead of ``path``."""
    endpoint_url: str | None = None
    """An S3-compatible service (MinIO, R2, B2, Ceph); None means AWS."""
    region: str | None = None
    addressing_style: str = "auto"
    checksum: str = "sha256"
    cache_control: tuple[tuple[str, str], ...] = ()
    """Overrides of the ``Cache-Control`` header, as (kind, value) pairs; kinds: ``CACHE_KINDS``."""
    state_dir: Path | None = None
    """The local state directory of a bucket target; None means the per-user cache default."""
    multipart_threshold: int = 64 << 20
    """Files of at least this many bytes are uploaded in parts."""
    part_size: int = 8 << 20
    """Bytes per part of a multipart upload (S3's minimum is 5 MiB)."""

    @property
    def bucket(self) -> str | None:
        """The bucket of ``url``, when it names one."""
        if self.url is None:
            return None
        return self.url.removeprefix("s3://").partition("/")[0]

    @property
    def prefix(self) -> str:
        """The key prefix of ``url`` below the bucket, without slashes at its ends ("" = root)."""
        if self.url is None:
            return ""
        return self.url.removeprefix("s3://").partition("/")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadConfig:
    concurrency: int = 8
    retries: int = 5
    timeout: float = 60.0
    """Seconds a connection may stall without receiving data (never a total-time limit)."""
    max_rate: int | None = None
    """Aggregate download bytes per second; None means unlimited."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishConfig:
    """What the mirror publishes for its clients besides the archives and their indexes."""

    base_url: str | None = None
    """The public URL of the mirror root, for absolute URLs in generated metadata."""
    download_metadata: bool = True
    """``download-metadata.json`` for ``UV_PYTHON_DOWNLOADS_JSON_URL``."""
    html: bool = True
    """``index.html`` at the root and in each release directory."""
    astral_layout: bool = True
    """The ``github/python-build-standalone/releases/download`` link (``UV_ASTRAL_MIRROR_URL``)."""
    flat: bool | Literal["copy"] = False
    """``flat/<name>`` hard links for ``PBS_INSTALLER_BASE_URL`` (pbs-installer, PDM); ``copy``:
    real copies, for file systems without hard links (twice the archives' space)."""
    offline_scripts: bool = True
    """``use-mirror.sh``, ``use-mirror.ps1`` and ``README.txt``: a tree that works where mounted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleConfig:
    """What an offline bundle carries besides the Pythons."""

    uv: tuple[str, ...] = ()
    """uv versions (``X.Y.Z``, or ``latest``: the newest that is not a prerelease) whose archives
    for the selected platforms go to ``uv/<version>/``; none by default."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneMax:
    """Prune refuses to delete more than ``count`` files, or ``percent`` % of the mirror's files."""

    count: int | None = None
    percent: float | None = 25.0

    def limit(self, total_files: int) -> int:
        """The largest number of files a prune may delete in a mirror of ``total_files``."""
        if self.count is not None:
            return self.count
        assert self.percent is not None  # noqa: S101 - one of the two is always set
        return int(total_files * self.percent / 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    releases: ReleasesConfig = field(default_factory=ReleasesConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    prune: bool = False
    prune_max: PruneMax = field(default_factory=PruneMax)
    diff_file: Path | None = None
    publish: PublishConfig = field(default_factory=PublishConfig)
    bundle: BundleConfig = field(default_factory=BundleConfig)
    source: Path | None = None
    """The file this configuration was read from, if any."""
