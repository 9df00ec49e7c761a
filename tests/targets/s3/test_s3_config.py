"""The S3 target's configuration, naming rules and optional extra (no server needed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mirrorsync.config.records import Config, TargetConfig
from mirrorsync.config.schema import AWS_SECRETS, S3_ONLY, parse_config
from mirrorsync.errors import ConfigError
from mirrorsync.targets.local import LocalTree
from mirrorsync.targets.open import open_target
from mirrorsync.targets.s3 import S3Target, content_type, default_state_dir, is_asset

BASE = Path("/srv/pbs")


def parse(text: str) -> Config:
    return parse_config(yaml.safe_load(textwrap.dedent(text)), base_dir=BASE)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value.problems


def test_a_bucket_target_with_every_key() -> None:
    """target.url and its companions parse into the TargetConfig, sizes and overrides included."""
    cfg = parse(
        """
        target:
          url: s3://pbs-mirror.example/python/builds/
          endpoint_url: https://s3.eu-central-003.backblazeb2.com/
          region: eu-central-003
          addressing_style: path
          checksum: md5
          cache_control: {archives: "public, max-age=86400"}
          state_dir: state
          multipart_threshold: 100Mi
          part_size: 16M
        """
    )
    assert cfg.target == TargetConfig(
        path=BASE / "mirror",
        url="s3://pbs-mirror.example/python/builds",
        endpoint_url="https://s3.eu-central-003.backblazeb2.com",
        region="eu-central-003",
        addressing_style="path",
        checksum="md5",
        cache_control=(("archives", "public, max-age=86400"),),
        state_dir=BASE / "state",
        multipart_threshold=100 << 20,
        part_size=16_000_000,
    )
    assert (cfg.target.bucket, cfg.target.prefix) == ("pbs-mirror.example", "python/builds")


def test_bucket_defaults() -> None:
    """A bare s3://BUCKET is the bucket root, sha256 checksums, auto addressing, AWS."""
    target = parse("target: {url: 's3://pbs'}").target
    assert (target.bucket, target.prefix, target.endpoint_url) == ("pbs", "", None)
    assert (target.checksum, target.addressing_style, target.cache_control) == (
        "sha256",
        "auto",
        (),
    )


REJECTED = [
    # the URL: scheme, bucket naming rules, prefix parts
    (
        "target: {url: 'https://pbs/x'}",
        "target.url: expected s3://BUCKET/PREFIX, got 'https://pbs/x'",
    ),
    ("target: {url: 's3://'}", "target.url: not a valid bucket name: ''"),
    ("target: {url: 's3://ab/x'}", "target.url: not a valid bucket name: 'ab'"),  # too short
    ("target: {url: 's3://Pbs/x'}", "target.url: not a valid bucket name: 'Pbs'"),  # upper case
    ("target: {url: 's3://pbs_mirror/x'}", "target.url: not a valid bucket name: 'pbs_mirror'"),
    ("target: {url: 's3://-pbs/x'}", "target.url: not a valid bucket name: '-pbs'"),
    ("target: {url: 's3://pbs..m/x'}", "target.url: not a valid bucket name: 'pbs..m'"),
    ("target: {url: 's3://10.0.0.1/x'}", "target.url: not a valid bucket name: '10.0.0.1'"),
    (
        f"target: {{url: 's3://{'a' * 64}/x'}}",
        f"target.url: not a valid bucket name: '{'a' * 57}...'",
    ),
    (
        "target: {url: 's3://pbs/a//b'}",
        "target.url: the prefix 'a//b' has an empty, '.' or '..' part",
    ),
    (
        "target: {url: 's3://pbs/../b'}",
        "target.url: the prefix '../b' has an empty, '.' or '..' part",
    ),
    ("target: {url: 's3://pbs/a?b'}", "target.url: the prefix 'a?b' holds '?' or '#'"),
    ("target: {url: 's3://pbs/a\\b'}", "target.url: the prefix 'a\\\\b' holds a control character"),
    # companions
    ("target: {url: 's3://pbs', checksum: crc32}", "target.checksum: unknown checksum 'crc32'"),
    (
        "target: {url: 's3://pbs', addressing_style: host}",
        "target.addressing_style: unknown addressing style 'host'",
    ),
    ("target: {url: 's3://pbs', region: 'eu west'}", "target.region: expected a region name"),
    (
        "target: {url: 's3://pbs', endpoint_url: 'ftp://x'}",
        "target.endpoint_url: expected an http:// or https:// URL",
    ),
    (
        "target: {url: 's3://pbs', endpoint_url: 'https://k:s@x'}",
        "target.endpoint_url: the URL carries credentials",
    ),
    (
        "target: {url: 's3://pbs', part_size: 1Mi}",
        "target.part_size: must be between 5242880 and 5368709120",
    ),
    (
        "target: {url: 's3://pbs', multipart_threshold: big}",
        "target.multipart_threshold: expected a size",
    ),
    (
        "target: {url: 's3://pbs', cache_control: {archive: x}}",
        "target.cache_control.archive: unknown key; did you mean 'archives'?",
    ),
    (
        "target: {url: 's3://pbs', cache_control: {indexes: \"a\\nb\"}}",
        "target.cache_control.indexes: a header value must be printable ASCII",
    ),
    # credentials never live in the file
    (
        "target: {url: 's3://pbs', aws_access_key_id: AKIA}",
        f"target.aws_access_key_id: 'aws_access_key_id' looks like a credential; {AWS_SECRETS}",
    ),
    (
        "target: {url: 's3://pbs', secret_access_key: x}",
        f"target.secret_access_key: 'secret_access_key' looks like a credential; {AWS_SECRETS}",
    ),
    # a bucket or a directory, and bucket keys only with a bucket
    ("target: {url: 's3://pbs', path: ./m}", "target.url: cannot be combined with target.path"),
    ("target: {part_size: 8Mi}", f"target.part_size: {S3_ONLY}"),
    ("target: {state_dir: /var/x}", f"target.state_dir: {S3_ONLY}"),
]


@pytest.mark.parametrize(("text", "problem"), REJECTED)
def test_each_s3_rule_is_rejected_with_its_key_path(text: str, problem: str) -> None:
    """A value breaking one S3 rule gives exactly one problem line, naming its key."""
    found = problems(text)
    assert len(found) == 1
    assert found[0].startswith(f"mirror.yaml: {problem}")


@pytest.mark.parametrize(
    ("path", "kind", "asset"),
    [
        (
            "20251217/cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz",
            "application/gzip",
            True,
        ),
        (
            "20251217/cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst",
            "application/zstd",
            True,
        ),
        ("20251217/SHA256SUMS", "text/plain; charset=utf-8", False),
        ("20251217/index.html", "text/html; charset=utf-8", False),
        ("index.json", "application/json", False),
        ("download-metadata.mirror.json", "application/json", False),
        ("use-mirror.ps1", "text/plain; charset=utf-8", False),
        ("README.txt", "text/plain; charset=utf-8", False),
    ],
)
def test_content_type_and_asset_kind(path: str, kind: str, asset: bool) -> None:  # noqa: FBT001
    """Every mirror file gets its media type; only <tag>/<archive> counts as an asset."""
    assert content_type(path) == kind
    assert is_asset(path) is asset


def test_open_target_picks_a_bucket_for_url(tmp_path: Path) -> None:
    """target.url opens an S3Target; the default state directory is per endpoint and prefix."""
    target = open_target(parse("target: {url: 's3://pbs/a/b'}"))
    assert isinstance(target, S3Target)
    assert not target.make_executable("use-mirror.sh")  # a bucket has no file modes
    assert target.description == "s3://pbs/a/b"
    assert target.state_dir == default_state_dir(bucket="pbs", prefix="a/b", endpoint_url=None)
    assert target.state_dir.parent == Path.home() / ".cache" / "mirrorsync" / "s3" / "pbs"
    other = default_state_dir(bucket="pbs", prefix="a/b", endpoint_url="http://minio:9000")
    assert other != target.state_dir
    assert isinstance(open_target(parse(f"target: {{path: {tmp_path}}}")), LocalTree)


def test_a_bucket_config_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without aiobotocore, a bucket config is a configuration error naming mirrorsync[s3]."""
    monkeypatch.setitem(sys.modules, "aiobotocore", None)
    monkeypatch.setitem(sys.modules, "aiobotocore.config", None)
    monkeypatch.setitem(sys.modules, "aiobotocore.session", None)
    with pytest.raises(ConfigError) as info:
        open_target(parse("target: {url: 's3://pbs/x'}"))
    assert info.value.exit_code == 2
    assert "pip install 'mirrorsync[s3]'" in str(info.value)


def test_the_core_imports_without_the_extra() -> None:
    """mirrorsync and its CLI import and run --version with aiobotocore and botocore absent."""
    code = (
        "import sys\n"
        "for name in ('aiobotocore', 'botocore', 'aiobotocore.session', 'botocore.config'):\n"
        "    sys.modules[name] = None\n"
        "from mirrorsync.cli import main\n"
        "import mirrorsync.commands.sync, mirrorsync.commands.verify\n"
        "raise SystemExit(main(['--version']))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mirrorsync ")
