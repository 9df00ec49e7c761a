"""Configuration loading: defaults, every validation rule with its key path, YAML errors, lookup."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from mirrorsync.config.load import find_config, load_config
from mirrorsync.config.records import (
    Config,
    DownloadConfig,
    PruneMax,
    PublishConfig,
    ReleasesConfig,
    SelectConfig,
    TargetConfig,
    UpstreamConfig,
)
from mirrorsync.config.schema import parse_config
from mirrorsync.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
BAD_RATE = "expected a rate such as 20M, 500K or a number of bytes per second"
BASE = Path("/srv/pbs")
SECRETS = (
    "secrets never live in the config file; "
    "set the environment variable named by upstream.token_env instead"
)
S3_ONLY = "only applies to an S3 target (set target.url)"


def parse(text: str) -> Config:
    """Parse a YAML snippet as if it were ``/srv/pbs/mirror.yaml``."""
    return parse_config(yaml.safe_load(textwrap.dedent(text)), base_dir=BASE)


def problems(text: str) -> list[str]:
    """The problem lines a YAML snippet produces (it must produce some)."""
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value.problems


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- defaults and a full config -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("# nothing but a comment\n", id="comment-only"),
        pytest.param("---\n", id="empty-document"),
        pytest.param("upstream:\ndownload:\n", id="null-sections"),
    ],
)
def test_empty_file_means_all_defaults(tmp_path: Path, text: str) -> None:
    """A file without settings gives the defaults of docs/interface.md §2, the target beside it."""
    path = write(tmp_path / "mirror.yaml", text)
    assert load_config(path) == Config(
        upstream=UpstreamConfig(
            source="github",
            repo="astral-sh/python-build-standalone",
            api_url="https://api.github.com",
            token_env="GITHUB_TOKEN",
        ),
        releases=ReleasesConfig(latest=1, since=None, tags=()),
        select=SelectConfig(),
        target=TargetConfig(path=tmp_path / "mirror"),
        download=DownloadConfig(concurrency=8, retries=5, timeout=60.0),
        prune=False,
        prune_max=PruneMax(count=None, percent=25.0),
        diff_file=None,
        source=path,
    )


FULL = """
upstream:
  source: github
  repo: example-org/pbs-fork
  api_url: https://ghe.example.com/api/v3/
  token_env: GHE_TOKEN
releases:
  latest: 3
  since: 2024-10-16
  tags: [20241016, "20241205"]
select:
  python: ["3.12", "3.13.1", ">=3.10,<3.14"]
  prereleases: true
  latest_patch: true
  platforms: ["*-apple-darwin", x86_64-unknown-linux-gnu]
  flavors: [install_only_stripped, full]
  variants: [default, freethreaded+debug]
  builds: ["pgo+lto", "freethreaded+*"]
  exclude: ["*-debug-*"]
target:
  path: /data/pbs
download:
  concurrency: 16
  retries: 0
  timeout: 12.5
prune: true
prune_max: "10%"
diff_file: diffs/pbs.txt
"""


def test_full_config_round_trips_into_the_records() -> None:
    """Every key of docs/interface.md §2 lands, normalised, in its settings record."""
    assert parse(FULL) == Config(
        upstream=UpstreamConfig(
            source="github",
            repo="example-org/pbs-fork",
            api_url="https://ghe.example.com/api/v3",  # trailing '/' stripped
            token_env="GHE_TOKEN",
        ),
        releases=ReleasesConfig(latest=3, since="20241016", tags=("20241016", "20241205")),
        select=SelectConfig(
            python=("3.12", "3.13.1", ">=3.10,<3.14"),
            prereleases=True,
            latest_patch=True,
            platforms=("*-apple-darwin", "x86_64-unknown-linux-gnu"),
            flavors=("install_only_stripped", "full"),
            variants=("default", "freethreaded+debug"),
            builds=("pgo+lto", "freethreaded+*"),
            exclude=("*-debug-*",),
        ),
        target=TargetConfig(path=Path("/data/pbs")),
        download=DownloadConfig(concurrency=16, retries=0, timeout=12.5),
        prune=True,
        prune_max=PruneMax(count=None, percent=10.0),
        diff_file=BASE / "diffs/pbs.txt",
        source=None,
    )


def test_shipped_sample_config_loads_without_problems() -> None:
    """The repository's mirror.yaml is valid and selects what its comments promise."""
    cfg = load_config(REPO / "mirror.yaml")
    assert cfg.releases == ReleasesConfig(latest=1, since=None, tags=())
    assert cfg.select.python == (">=3.10",)
    assert cfg.select.flavors == ("install_only_stripped", "install_only")
    assert cfg.select.variants == ("default", "freethreaded")
    assert set(cfg.select.platforms) == {
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    }
    assert cfg.target.path == REPO / "mirror"
    assert not cfg.prune


# -- every rule, rejected with its key path -------------------------------------------------------


REJECTED = [
    # unknown keys, at every level, with the closest known key when there is one
    ("prunee: true", "prunee: unknown key; did you mean 'prune'?"),
    ("download: {concurency: 4}", "download.concurency: unknown key; did you mean 'concurrency'?"),
    ("select: {platform: []}", "select.platform: unknown key; did you mean 'platforms'?"),
    (
        "upstream: {repository: a/b}",
        (
            "upstream.repository: unknown key; the keys here are api_url, download_url, "
            "fallback, full_listing_hours, index_url, repo, source, token_env, url, "
            "uv_repo"
        ),
    ),
    ("concurrency: 4", "concurrency: unknown key; did you mean 'download.concurrency'?"),
    ("select: {tags: []}", "select.tags: unknown key; did you mean 'releases.tags'?"),
    ("select: {1: x}", "select.1: expected a key name, got 1"),
    # keys of later capabilities: named, but not unknown
    (
        "download: {max_rate: 20T}",
        f"download.max_rate: {BAD_RATE}, got '20T'",
    ),
    (
        "download: {max_rate: fast}",
        f"download.max_rate: {BAD_RATE}, got 'fast'",
    ),
    ("download: {max_rate: 0}", "download.max_rate: a rate must be positive, got 0"),
    (
        "download: {max_rate: true}",
        "download.max_rate: expected a rate such as 20M, 500K or a number of bytes, got true",
    ),
    ("select: {uv_metadata: ''}", "select.uv_metadata: must not be empty"),
    (
        "select: {uv_metadata: 'https://'}",
        "select.uv_metadata: expected an http:// or https:// URL, got 'https://'",
    ),
    (
        "publish: {base_url: 'ftp://m.example/'}",
        "publish.base_url: expected an http:// or https:// URL, got 'ftp://m.example/'",
    ),
    (
        "publish: {base_url: 'https://u:p@m.example/'}",
        "publish.base_url: the URL carries credentials; " + SECRETS,
    ),
    (  # characters no URL has: written into JSON, HTML and scripts, they would break them
        "publish: {base_url: 'https://m.example/a\"b'}",
        (
            "publish.base_url: expected a URL of URL characters only (RFC 3986), "
            "got 'https://m.example/a\"b'"
        ),
    ),
    (
        "publish: {base_url: 'https://m.example/<script>'}",
        (
            "publish.base_url: expected a URL of URL characters only (RFC 3986), "
            "got 'https://m.example/<script>'"
        ),
    ),
    (
        "publish: {base_url: 'https://m.example/`id`'}",
        (
            "publish.base_url: expected a URL of URL characters only (RFC 3986), "
            "got 'https://m.example/`id`'"
        ),
    ),
    (
        "publish: {base_url: 'https://m.example/%zz'}",
        (
            "publish.base_url: expected a URL of URL characters only (RFC 3986), "
            "got 'https://m.example/%zz'"
        ),
    ),
    ("publish: {html: 'yes'}", "publish.html: expected true or false, got 'yes'"),
    ("publish: {flatten: true}", "publish.flatten: unknown key; did you mean 'flat'?"),
    # S3 settings need a bucket; a bucket excludes a directory
    ("target: {endpoint_url: 'https://s3.example'}", f"target.endpoint_url: {S3_ONLY}"),
    ("target: {region: eu-west-1}", f"target.region: {S3_ONLY}"),
    ("target: {addressing_style: path}", f"target.addressing_style: {S3_ONLY}"),
    ("target: {checksum: sha256}", f"target.checksum: {S3_ONLY}"),
    (
        "target: {url: 's3://bucket/pbs', path: ./mirror}",
        (
            "target.url: cannot be combined with target.path: "
            "a mirror is either a directory or a bucket"
        ),
    ),
    # secrets never live in the file
    ("upstream: {token: ghp_x}", f"upstream.token: 'token' looks like a secret; {SECRETS}"),
    ("github_token: x", f"github_token: 'github_token' looks like a secret; {SECRETS}"),
    ("target: {password: x}", f"target.password: 'password' looks like a secret; {SECRETS}"),
    ("upstream: {api_key: x}", f"upstream.api_key: 'api_key' looks like a secret; {SECRETS}"),
    (
        "upstream: {api_url: 'https://me:hunter2@ghe.example/api'}",
        f"upstream.api_url: the URL carries credentials; {SECRETS}",
    ),
    (
        "upstream: {token_env: ghp_0123456789abcdefABCDEF0123456789abcd}",
        "upstream.token_env: this looks like a token, not the name of an environment variable; "
        + SECRETS,
    ),
    # mappings and lists have their shape
    ("upstream: [a]", "upstream: expected a mapping, got a list"),
    ("download: 8", "download: expected a mapping, got 8"),
    ("select: {platforms: [a, b, 12]}", "select.platforms[2]: expected a string, got 12"),
    (
        "select: {platforms: x86_64-unknown-linux-gnu}",
        (
            "select.platforms: expected a list, got the single value 'x86_64-unknown-linux-gnu' "
            '(write ["x86_64-unknown-linux-gnu"])'
        ),
    ),
    (
        "select: {flavors: null}",
        "select.flavors: expected a list, got null (write [] for no restriction)",
    ),
    ("select: {variants: {default: 1}}", "select.variants: expected a list, got a mapping"),
    ("releases: {tags: 20241016}", "releases.tags: expected a list, got 20241016"),
    # upstream
    (
        "upstream: {source: gitlab}",
        "upstream.source: unsupported source 'gitlab'; expected one of github, mirror, astral",
    ),
    ("upstream: {source: null}", "upstream.source: expected a string, got null"),
    ("upstream: {repo: 12}", "upstream.repo: expected a string, got 12"),
    *[
        (
            f"upstream: {{repo: '{repo}'}}",
            f"upstream.repo: expected 'owner/name' (letters, digits, '.', '_', '-'), got '{repo}'",
        )
        for repo in ["astral-sh", "a/b/c", "../pbs", "owner/..", "own er/name", "/name", ""]
    ],
    *[
        (
            f"upstream: {{api_url: '{url}'}}",
            f"upstream.api_url: expected an http:// or https:// URL, got '{url}'",
        )
        for url in [
            "api.github.com",
            "ftp://ghe.example",
            "https://",
            "https://ghe:99999",
            "file:///x",
        ]
    ],
    (
        "upstream: {api_url: 'https://ghe.example/api?page=2'}",
        (
            "upstream.api_url: expected an API root without query, fragment or spaces, "
            "got 'https://ghe.example/api?page=2'"
        ),
    ),
    *[
        (
            f"upstream: {{token_env: '{name}'}}",
            (
                "upstream.token_env: expected the name of an environment variable "
                "(letters, digits and '_', not starting with a digit)"
            ),
        )
        for name in ["1TOKEN", "MY-TOKEN", "", "$GITHUB_TOKEN"]
    ],
    # releases
    ("releases: {latest: 0}", "releases.latest: must be at least 1, got 0 (null means no limit)"),
    ("releases: {latest: -2}", "releases.latest: must be at least 1, got -2 (null means no limit)"),
    ("releases: {latest: true}", "releases.latest: expected a positive integer or null, got true"),
    ("releases: {latest: '1'}", "releases.latest: expected a positive integer or null, got '1'"),
    ("releases: {latest: 1.5}", "releases.latest: expected a positive integer or null, got 1.5"),
    ("releases: {since: '20241341'}", "releases.since: not a real date: '20241341'"),
    ("releases: {since: '2023-02-29'}", "releases.since: not a real date: '2023-02-29'"),
    ("releases: {since: 20240230}", "releases.since: not a real date: 20240230"),
    *[
        (
            f"releases: {{since: {since}}}",
            f"releases.since: expected a date as 'YYYYMMDD' or 'YYYY-MM-DD', got {shown}",
        )
        for since, shown in [
            ("'2024/10/16'", "'2024/10/16'"),
            ("'yesterday'", "'yesterday'"),
            ("2024", "2024"),
            ("true", "true"),
            ("[20241016]", "a list"),
        ]
    ],
    (
        "releases: {since: 2024-10-16 10:00:00}",
        "releases.since: expected a date, got a timestamp (2024-10-16 10:00:00)",
    ),
    *[
        (
            f"releases: {{tags: [{tag}]}}",
            (
                f"releases.tags[0]: not a safe tag name: {shown} "
                "(letters, digits, '.', '_' and '-' only; not '.' or '..')"
            ),
        )
        for tag, shown in [
            ("'a/b'", "'a/b'"),
            ("'.'", "'.'"),
            ("'..'", "'..'"),
            ("''", "''"),
            ("'2024 10 16'", "'2024 10 16'"),
            ("'a\\b'", "'a\\\\b'"),  # a backslash is a separator on Windows
        ]
    ],
    (
        "releases: {tags: [true]}",
        "releases.tags[0]: expected a tag (a string or a number like 20241016), got true",
    ),
    (
        "releases: {tags: [2024.1]}",
        "releases.tags[0]: expected a tag (a string or a number like 20241016), got 2024.1",
    ),
    # select.python
    (
        "select: {python: [3.10]}",
        (
            "select.python[0]: expected a string, got the number 3.1; "
            "quote versions in YAML (3.10 unquoted reads as 3.1)"
        ),
    ),
    (
        "select: {python: [3]}",
        (
            "select.python[0]: expected a string, got the number 3; "
            "quote versions in YAML (3.10 unquoted reads as 3.1)"
        ),
    ),
    ("select: {python: ['>=3.1x']}", "select.python[0]: Invalid specifier: '>=3.1x'"),
    ("select: {python: ['=>3.10']}", "select.python[0]: Invalid specifier: '=>3.10'"),
    ("select: {python: ['3']}", "select.python[0]: Invalid specifier: '3'"),
    (
        "select: {python: [',']}",  # packaging parses it as an empty set, matching everything
        (
            "select.python[0]: invalid python entry ',': expected a minor version such as '3.12', "
            "an exact version such as '3.12.4' or '3.15.0a5', "
            "or a PEP 440 specifier set such as '>=3.10,<3.14'"
        ),
    ),
    ("select: {python: ['']}", "select.python[0]: must not be empty"),
    ("select: {python: [null]}", "select.python[0]: expected a string, got null"),
    # flavors and variants
    (
        "select: {flavors: [install-only]}",
        (
            "select.flavors[0]: unknown flavor 'install-only', expected one of install_only, "
            "install_only_stripped, full; did you mean 'install_only'?"
        ),
    ),
    (
        "select: {variants: [nogil]}",
        (
            "select.variants[0]: unknown variant 'nogil', expected one of default, freethreaded, "
            "debug, freethreaded+debug"
        ),
    ),
    (
        "select: {variants: [debug+freethreaded]}",
        (
            "select.variants[0]: unknown variant 'debug+freethreaded', expected one of default, "
            "freethreaded, debug, freethreaded+debug; did you mean 'freethreaded+debug'?"
        ),
    ),
    # globs
    ("select: {platforms: ['']}", "select.platforms[0]: must not be empty"),
    ("select: {platforms: ['  ']}", "select.platforms[0]: must not be empty"),
    (
        "select: {platforms: ['x86_64-[unknown-linux-gnu']}",
        "select.platforms[0]: bad glob 'x86_64-[unknown-linux-gnu': unbalanced '['",
    ),
    ("select: {builds: ['pgo[!']}", "select.builds[0]: bad glob 'pgo[!': unbalanced '['"),
    ("select: {exclude: ['*[]']}", "select.exclude[0]: bad glob '*[]': unbalanced '['"),
    ("select: {exclude: [12]}", "select.exclude[0]: expected a string, got 12"),
    # booleans are booleans
    ("prune: 'yes'", "prune: expected true or false, got 'yes'"),
    ("prune: 1", "prune: expected true or false, got 1"),
    ("select: {prereleases: null}", "select.prereleases: expected true or false, got null"),
    ("select: {latest_patch: 'false'}", "select.latest_patch: expected true or false, got 'false'"),
    # target
    ("target: {path: ''}", "target.path: must not be empty"),
    ("target: {path: 5}", "target.path: expected a string, got 5"),
    ("target: {path: null}", "target.path: expected a string, got null"),
    ("target: ./mirror", "target: expected a mapping, got './mirror'"),
    # download
    ("download: {concurrency: 0}", "download.concurrency: must be between 1 and 256, got 0"),
    ("download: {concurrency: 257}", "download.concurrency: must be between 1 and 256, got 257"),
    ("download: {concurrency: true}", "download.concurrency: expected an integer, got true"),
    ("download: {concurrency: '8'}", "download.concurrency: expected an integer, got '8'"),
    ("download: {retries: -1}", "download.retries: must be between 0 and 100, got -1"),
    ("download: {retries: 101}", "download.retries: must be between 0 and 100, got 101"),
    ("download: {retries: 2.5}", "download.retries: expected an integer, got 2.5"),
    ("download: {timeout: '30'}", "download.timeout: expected a number of seconds, got '30'"),
    ("download: {timeout: false}", "download.timeout: expected a number of seconds, got false"),
    *[
        (
            f"download: {{timeout: {timeout}}}",
            f"download.timeout: must be a finite number of seconds greater than 0, got {shown}",
        )
        for timeout, shown in [("0", "0"), ("-1.5", "-1.5"), (".inf", "inf"), (".nan", "nan")]
    ],
    # prune_max
    *[
        (
            f"prune_max: {value}",
            f"prune_max: expected 'N%' (0 < N <= 100) or a number of files, got {shown}",
        )
        for value, shown in [
            ("'0%'", "'0%'"),
            ("'150%'", "'150%'"),
            ("'-5%'", "'-5%'"),
            ("'25'", "'25'"),
            ("'a lot'", "'a lot'"),
            ("2.5", "2.5"),
            ("true", "true"),
            ("null", "null"),
        ]
    ],
    ("prune_max: -1", "prune_max: a number of files must not be negative, got -1"),
    # diff_file
    ("diff_file: ''", "diff_file: must not be empty"),
    ("diff_file: 5", "diff_file: expected a string, got 5"),
    ("diff_file: [a]", "diff_file: expected a string, got a list"),
    ('diff_file: "a\\0b"', "diff_file: a path cannot contain a NUL character"),
    # values YAML builds that no key takes
    ("prune: 2024-10-16", "prune: expected true or false, got a date (2024-10-16)"),
    ("prune: !!set {a}", "prune: expected true or false, got a set"),
    (
        "bundle: {uv: [0.10]}",
        "bundle.uv[0]: expected a string, got the number 0.1; quote uv versions in YAML",
    ),
    (
        "bundle: {uv: ['0.9']}",
        (
            "bundle.uv[0]: invalid uv version '0.9': expected an exact version such as '0.9.28' "
            "(digits only, major.minor.patch) or 'latest'"
        ),
    ),
    (
        "bundle: {uv: ['../0.9.28']}",
        (
            "bundle.uv[0]: invalid uv version '../0.9.28': expected an exact version such as "
            "'0.9.28' (digits only, major.minor.patch) or 'latest'"
        ),
    ),
    (
        "bundle: {uv: '0.9.28'}",
        "bundle.uv: expected a list, got the single value '0.9.28' (write [\"0.9.28\"])",
    ),
    ("bundle: {uv: [true]}", "bundle.uv[0]: expected a string, got true"),
    ("bundle: {uvs: []}", "bundle.uvs: unknown key; did you mean 'uv'?"),
    ("uv: []", "uv: unknown key; did you mean 'bundle.uv'?"),
    (
        "upstream: {uv_repo: nope}",
        "upstream.uv_repo: expected 'owner/name' (letters, digits, '.', '_', '-'), got 'nope'",
    ),
    (
        "upstream: {source: astral, uv_repo: a/b}",
        "upstream.uv_repo: does not apply to the 'astral' source",
    ),
]


def test_bundle_uv_keeps_each_version_once_in_order() -> None:
    """bundle.uv: versions and ``latest`` as written, a repeat dropped; none by default."""
    cfg = parse_config(
        yaml.safe_load("bundle: {uv: ['0.9.28', latest, '0.9.28']}"), base_dir=Path("/x")
    )
    assert cfg.bundle.uv == ("0.9.28", "latest")
    assert parse_config({}, base_dir=Path("/x")).bundle.uv == ()
    assert parse_config({}, base_dir=Path("/x")).upstream.uv_repo == "astral-sh/uv"


@pytest.mark.parametrize(("text", "problem"), REJECTED)
def test_each_rule_is_rejected_with_its_key_path(text: str, problem: str) -> None:
    """A value breaking one rule gives exactly one problem line: origin, key path, message."""
    assert problems(text) == [f"mirror.yaml: {problem}"]


def test_top_level_must_be_a_mapping() -> None:
    """A document that is a list or a scalar is one problem, without a key path."""
    assert problems("- upstream\n- select\n") == [
        "mirror.yaml: expected a mapping of settings at the top level, got a list"
    ]


def test_secret_values_are_never_echoed() -> None:
    """Problems about credentials name the key but never repeat the secret itself."""
    lines = problems(
        """
        upstream:
          token: ghp_SECRETVALUE
          api_url: https://me:hunter2@ghe.example/api
          token_env: ghp_0123456789abcdefABCDEF0123456789abcd
        """
    )
    assert len(lines) == 3
    for secret in ("SECRETVALUE", "hunter2", "0123456789abcdef"):
        assert all(secret not in line for line in lines)


def test_every_problem_is_reported_at_once_in_document_order() -> None:
    """One ConfigError lists every problem of the file, in the order they appear in it."""
    lines = problems(
        """
        upstream:
          repo: nope
        releases:
          latest: 0
          tags: [20241016, "../x", true]
        select:
          platforms: [x86_64-unknown-linux-gnu, 12]
          flavors: [tiny]
        download:
          concurency: 4
          timeout: 0
        prune: maybe
        """
    )
    assert lines == [
        (
            "mirror.yaml: upstream.repo: expected 'owner/name' (letters, digits, '.', '_', '-'), "
            "got 'nope'"
        ),
        "mirror.yaml: releases.latest: must be at least 1, got 0 (null means no limit)",
        (
            "mirror.yaml: releases.tags[1]: not a safe tag name: '../x' "
            "(letters, digits, '.', '_' and '-' only; not '.' or '..')"
        ),
        (
            "mirror.yaml: releases.tags[2]: expected a tag (a string or a number like 20241016), "
            "got true"
        ),
        "mirror.yaml: select.platforms[1]: expected a string, got 12",
        (
            "mirror.yaml: select.flavors[0]: unknown flavor 'tiny', expected one of install_only, "
            "install_only_stripped, full"
        ),
        "mirror.yaml: download.concurency: unknown key; did you mean 'concurrency'?",
        "mirror.yaml: download.timeout: must be a finite number of seconds greater than 0, got 0",
        "mirror.yaml: prune: expected true or false, got 'maybe'",
    ]


def test_problem_lines_name_the_file_they_came_from(tmp_path: Path) -> None:
    """load_config uses the path it read as the origin of every problem line."""
    path = write(tmp_path / "site.yaml", "prune: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: prune: expected true or false, got 2"]
    assert info.value.exit_code == 2


# -- accepted forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "since"),
    [
        ("since: 20241016", "20241016"),  # a YAML int
        ("since: '20241016'", "20241016"),
        ("since: '2024-10-16'", "20241016"),
        ("since: 2024-10-16", "20241016"),  # a YAML date object
        ("since: 2024-02-29", "20240229"),  # a leap day is a real date
        ("since: null", None),
    ],
)
def test_since_forms_normalise_to_yyyymmdd(text: str, since: str | None) -> None:
    """`since` accepts YYYYMMDD, YYYY-MM-DD, a YAML int and a YAML date, all as YYYYMMDD."""
    assert parse(f"releases: {{{text}}}").releases.since == since


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("[20241016]", ("20241016",)),  # a YAML int is the tag of the same digits
        ("[20241016, '20241205']", ("20241016", "20241205")),
        ("['20241016', 20241016]", ("20241016",)),  # the same tag twice counts once
        ("[v1.2_rc-3]", ("v1.2_rc-3",)),
        ("[]", ()),
    ],
)
def test_tags_accept_strings_and_integers(text: str, tags: tuple[str, ...]) -> None:
    """`tags` keeps safe tag strings in order; YAML integers become their digits."""
    assert parse(f"releases: {{tags: {text}}}").releases.tags == tags


@pytest.mark.parametrize(
    ("text", "latest"),
    [
        ("{}", 1),  # nothing given: the newest release
        ("{latest: 4}", 4),
        ("{latest: null}", None),  # explicitly no limit
        ("{since: 20241016}", None),  # since alone: every release since then
        ("{since: 20241016, latest: 2}", 2),  # an explicit latest caps since
        ("{since: null}", 1),  # a null since is no since
        ("{tags: [20241016]}", None),
        ("{tags: []}", 1),  # an empty tag list is no tag list
        ("{tags: [20241016], latest: 5}", 5),  # kept as written; tags win in the filters
    ],
)
def test_latest_defaults_depend_on_since_and_tags(text: str, latest: int | None) -> None:
    """`latest` is 1 only when neither since nor tags is given; an explicit value always wins."""
    assert parse(f"releases: {text}").releases.latest == latest


@pytest.mark.parametrize(
    ("text", "python"),
    [
        ("['3.12']", ("3.12",)),
        ("['3.12.4']", ("3.12.4",)),
        ("['3.15.0a5']", ("3.15.0a5",)),  # exactly that prerelease
        ("['>=3.10,<3.14', '==3.15.0a5', '~=3.11.0', '==3.13.*']", None),
        ("[' 3.11 ']", ("3.11",)),  # surrounding spaces are dropped
    ],
)
def test_python_accepts_short_forms_and_specifier_sets(
    text: str, python: tuple[str, ...] | None
) -> None:
    """`select.python` keeps "3.12", "3.12.4", "3.15.0a5" and PEP 440 specifier sets as written."""
    expected = python if python is not None else tuple(yaml.safe_load(text))
    assert parse(f"select: {{python: {text}}}").select.python == expected


@pytest.mark.parametrize(
    ("text", "prune_max"),
    [
        ("'25%'", PruneMax(count=None, percent=25.0)),
        ("'2.5%'", PruneMax(count=None, percent=2.5)),
        ("'100 %'", PruneMax(count=None, percent=100.0)),
        ("0", PruneMax(count=0, percent=None)),  # prune may delete nothing
        ("500", PruneMax(count=500, percent=None)),
    ],
)
def test_prune_max_is_a_percentage_or_a_count(text: str, prune_max: PruneMax) -> None:
    """`prune_max` reads "N%" as a share of the mirror's files and an integer as a file count."""
    assert parse(f"prune_max: {text}").prune_max == prune_max


@pytest.mark.parametrize(("text", "timeout"), [("60", 60.0), ("0.5", 0.5), ("1.5e+2", 150.0)])
def test_timeout_accepts_integers_and_floats(text: str, timeout: float) -> None:
    """Where a number of seconds is expected, integers are accepted and stored as floats."""
    value = parse(f"download: {{timeout: {text}}}").download.timeout
    assert value == timeout
    assert isinstance(value, float)


def test_globs_with_brackets_that_close_are_accepted() -> None:
    """Character sets, negated sets and a leading ']' inside a set are valid fnmatch globs."""
    globs = ["x86_64[_-]*", "*-[!w]*", "[]]x", "a]b"]
    assert parse(f"select: {{platforms: {globs}}}").select.platforms == tuple(globs)


def test_api_url_loses_trailing_slashes() -> None:
    """`upstream.api_url` is stored without a trailing '/', so URLs join cleanly."""
    assert parse("upstream: {api_url: 'http://127.0.0.1:8080//'}").upstream.api_url == (
        "http://127.0.0.1:8080"
    )


# -- paths ----------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """target.path and diff_file are relative to the config file's directory, not the cwd."""
    conf = write(
        tmp_path / "etc" / "mirror.yaml",
        "target: {path: ./pbs}\ndiff_file: logs/diff.txt\n",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(conf)
    assert cfg.target.path == tmp_path / "etc" / "pbs"
    assert cfg.diff_file == tmp_path / "etc" / "logs" / "diff.txt"


def test_relative_config_path_still_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config named relative to the cwd yields paths that survive a later change of directory."""
    write(tmp_path / "etc" / "mirror.yaml", "target: {path: pbs}\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path("etc/mirror.yaml"))
    assert cfg.target.path == tmp_path / "etc" / "pbs"
    assert cfg.source == Path("etc/mirror.yaml")


def test_default_target_is_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without target.path the mirror is ./mirror next to the config file."""
    conf = write(tmp_path / "etc" / "mirror.yaml", "target: {}\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(conf).target.path == tmp_path / "etc" / "mirror"


def test_absolute_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An absolute target.path is kept as is; a leading '~' is the user's home directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parse("target: {path: /var/pbs}").target.path == Path("/var/pbs")
    assert parse("target: {path: ~/pbs}").target.path == tmp_path / "home" / "pbs"
    assert parse("diff_file: ~/d.txt").diff_file == tmp_path / "home" / "d.txt"


# -- reading the file -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "upstream:\n  repo: a/b\n - x\n",
            "3:2",
            (
                "expected <block end>, but found '<block sequence start>' "
                "(while parsing a block mapping at 1:1)"
            ),
        ),
        (
            "select:\n  platforms: [a, b\n",
            "3:1",
            "expected ',' or ']', but got '<stream end>' (while parsing a flow sequence at 2:14)",
        ),
        (
            "prune: true\nprune: false\n",
            "2:1",
            "found duplicate key 'prune' (while constructing a mapping at 1:1)",
        ),
        ("a: b: c\n", "1:5", "mapping values are not allowed here"),
        (
            "select:\n\tplatforms: []\n",
            "2:1",
            "found character '\\t' that cannot start any token (while scanning for the next token)",
        ),
        (
            "x: !!python/object:os.system ls\n",
            "1:4",
            (
                "could not determine a constructor for the tag "
                "'tag:yaml.org,2002:python/object:os.system'"
            ),
        ),
    ],
)
def test_yaml_syntax_errors_carry_line_and_column(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    """A YAML error is one problem, `file:line:column: message`, 1-based."""
    path = write(tmp_path / "mirror.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}:{where}: {message}"]


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    """YAML merge keys are allowed, and an explicit key overriding a merged one is no duplicate."""
    path = write(
        tmp_path / "mirror.yaml",
        "download:\n  <<: {concurrency: 4, retries: 2}\n  concurrency: 6\n",
    )
    assert load_config(path).download == DownloadConfig(concurrency=6, retries=2)


def test_invalid_utf8_is_reported_with_its_position(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are a problem naming line and column."""
    path = tmp_path / "mirror.yaml"
    path.write_bytes(b"prune: false\ntarget: {path: \xff}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}:2:16: not valid UTF-8 (byte 0xff)"]


def test_control_characters_are_reported_with_their_position(tmp_path: Path) -> None:
    """A character YAML refuses (here BEL) is a problem naming line and column."""
    path = write(tmp_path / "mirror.yaml", "prune: false\ntarget: {path: a\x07b}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}:2:17: unacceptable character #x0007: special characters are not allowed"
    ]


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """A leading BOM, as some Windows editors write it, does not break the file."""
    path = tmp_path / "mirror.yaml"
    path.write_bytes(b"\xef\xbb\xbfprune: true\n")
    assert load_config(path).prune


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A config file that does not exist is a ConfigError that says how to name another one."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        (
            f"{path}: cannot read the configuration file: No such file or directory "
            "(pass -c FILE or set MIRRORSYNC_CONFIG)"
        )
    ]


def test_directory_is_a_config_error(tmp_path: Path) -> None:
    """A directory given as the config file is a ConfigError, not a crash."""
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path)


def test_top_level_scalar_file_is_a_config_error(tmp_path: Path) -> None:
    """A file whose document is a plain scalar is reported as not being a mapping."""
    path = write(tmp_path / "mirror.yaml", "just some words\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}: expected a mapping of settings at the top level, got 'just some words'"
    ]


# -- finding the file -----------------------------------------------------------------------------


CWD = Path("/home/op/work")


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        (None, {}, CWD / "mirror.yaml"),
        (None, {"MIRRORSYNC_CONFIG": "/etc/mirrorsync.yaml"}, Path("/etc/mirrorsync.yaml")),
        (None, {"MIRRORSYNC_CONFIG": "conf/m.yaml"}, CWD / "conf/m.yaml"),
        (None, {"MIRRORSYNC_CONFIG": ""}, CWD / "mirror.yaml"),  # set but empty = unset
        ("site.yaml", {"MIRRORSYNC_CONFIG": "/etc/mirrorsync.yaml"}, CWD / "site.yaml"),
        ("/abs/site.yaml", {}, Path("/abs/site.yaml")),
        (None, {"OTHER": "x.yaml"}, CWD / "mirror.yaml"),
    ],
)
def test_find_config_order(explicit: str | None, environ: dict[str, str], expected: Path) -> None:
    """-c FILE wins, then MIRRORSYNC_CONFIG, then ./mirror.yaml; relative names join the cwd."""
    assert find_config(explicit, environ, CWD) == expected


def test_find_config_does_not_check_existence(tmp_path: Path) -> None:
    """find_config only names the file; a missing one is load_config's to report."""
    assert find_config(None, {}, tmp_path) == tmp_path / "mirror.yaml"
    assert not (tmp_path / "mirror.yaml").exists()


def test_find_config_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A '~' in MIRRORSYNC_CONFIG (which no shell expanded) is the home directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    environ = {"MIRRORSYNC_CONFIG": "~/pbs.yaml"}
    assert find_config(None, environ, CWD) == tmp_path / "pbs.yaml"


def test_find_config_rejects_an_empty_file_name() -> None:
    """`-c ''` is a usage error rather than a silent fallback to ./mirror.yaml."""
    with pytest.raises(ConfigError, match="expected a file name"):
        find_config("", {}, CWD)


def test_publish_section_reads_into_its_record() -> None:
    """publish keys parse into PublishConfig; base_url loses its trailing slash."""
    cfg = parse_config(
        yaml.safe_load(
            "publish: {base_url: 'https://m.example/pbs/', flat: true, html: false,"
            " astral_layout: false, offline_scripts: false, download_metadata: false}"
        ),
        base_dir=Path("/srv"),
    )
    assert cfg.publish == PublishConfig(
        base_url="https://m.example/pbs",
        flat=True,
        html=False,
        astral_layout=False,
        offline_scripts=False,
        download_metadata=False,
    )
    assert parse_config(None, base_dir=Path("/srv")).publish == PublishConfig()


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("download: {max_rate: 20M}", 20_000_000),  # decimal units, as link speeds are quoted
        ("download: {max_rate: 500K}", 500_000),
        ("download: {max_rate: 2Mi}", 2 * 1024 * 1024),
        ("download: {max_rate: '1.5 MB/s'}", 1_500_000),
        ("download: {max_rate: 1000}", 1000),
        ("download: {max_rate: null}", None),
        ("download: {}", None),
    ],
)
def test_max_rate_accepts_units(text: str, rate: int | None) -> None:
    """download.max_rate reads K/M/G (decimal) and Ki/Mi/Gi suffixes into bytes per second."""
    assert parse_config(yaml.safe_load(text), base_dir=Path("/srv")).download.max_rate == rate


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("uv.json", "/srv/uv.json"),  # relative to the config's directory
        ("/opt/uv/download-metadata.json", "/opt/uv/download-metadata.json"),
        ("https://example.org/uv.json", "https://example.org/uv.json"),
    ],
)
def test_uv_metadata_is_a_path_or_a_url(value: str, expected: str) -> None:
    """select.uv_metadata keeps URLs as given and resolves paths against the config directory."""
    cfg = parse_config({"select": {"uv_metadata": value}}, base_dir=Path("/srv"))
    assert cfg.select.uv_metadata == expected
