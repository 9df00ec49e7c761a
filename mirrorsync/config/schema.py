"""Check a loaded ``mirror.yaml`` into a :class:`~mirrorsync.config.records.Config`, reporting
every problem.

``parse_config`` validates the object YAML gave (``load`` reads the file) against the keys of
``docs/interface.md`` §2. Each problem is one line, ``<origin>: <key path>: <message>``, in
document order, e.g. ``mirror.yaml: select.platforms[2]: expected a string, got 12``. The
schema is data: one ``_Section`` per mapping, naming a check per key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeGuard
from urllib.parse import unquote, urlsplit

from packaging.specifiers import InvalidSpecifier

from mirrorsync.config.records import (
    ADDRESSING_STYLES,
    ASTRAL_DOWNLOAD_URL,
    CACHE_KINDS,
    CHECKSUMS,
    FLAT_COPY,
    BundleConfig,
    Config,
    DownloadConfig,
    PruneMax,
    PublishConfig,
    ReleasesConfig,
    SelectConfig,
    TargetConfig,
    UpstreamConfig,
)
from mirrorsync.core.model import FLAVORS, VARIANTS
from mirrorsync.core.names import TAG_DATE_FORMAT
from mirrorsync.core.selection import compile_python_spec, is_safe_tag
from mirrorsync.core.units import parse_rate
from mirrorsync.core.uvbundle import check_uv_entry
from mirrorsync.errors import ConfigError

DEFAULT_CONFIG_NAME = "mirror.yaml"

SECRETS = (
    "secrets never live in the config file; "
    "set the environment variable named by upstream.token_env instead"
)
AWS_SECRETS = (
    "S3 credentials never live in the config file; they come from the standard AWS chain "
    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role)"
)
S3_ONLY = "only applies to an S3 target (set target.url)"
MIN_PART = 5 << 20
"""S3's smallest part (all but the last); also the smallest sensible multipart threshold."""
MAX_PART = 5 << 30
"""S3's largest part, and its largest single PUT."""

_REPO = re.compile(r"(?P<owner>[A-Za-z0-9._-]+)/(?P<name>[A-Za-z0-9._-]+)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DATE = re.compile(r"(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})")
_PERCENT = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*%")
# Key names that can only mean a credential (``upstream.token``, ``password``, ``api_key``, ...).
_SECRET_KEY = re.compile(r"token|passw|secret|api_?key|credential|auth", re.IGNORECASE)
# A GitHub token pasted where the *name* of its variable belongs (prefixed or classic 40-hex forms).
_TOKEN_VALUE = re.compile(r"(?:gh[pousr]_|github_pat_)\w+|[0-9a-f]{40}")
# AWS credential settings pasted under target (aws_access_key_id, secret_access_key, session_token).
_AWS_KEY = re.compile(r"aws_|access_?key|secret|session_?token|credential", re.IGNORECASE)
# S3 bucket names (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3-63
# lower-case letters, digits, '.' and '-', starting and ending with a letter or a digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class _Rejected(Exception):
    """The value had a problem, already recorded; its key keeps no value."""


@dataclass(frozen=True, slots=True)
class _At:
    """A place in the document: its key path, the list of problems, the base directory."""

    path: str
    problems: list[tuple[str, str]]
    base_dir: Path
    """The config file's directory: relative paths in the file are relative to it."""

    def key(self, name: str) -> _At:
        return _At(f"{self.path}.{name}" if self.path else name, self.problems, self.base_dir)

    def item(self, index: int) -> _At:
        return _At(f"{self.path}[{index}]", self.problems, self.base_dir)

    def note(self, message: str) -> None:
        self.problems.append((self.path, message))

    def fail(self, message: str) -> NoReturn:
        self.note(message)
        raise _Rejected


_Check = Callable[[object, _At], Any]


@dataclass(frozen=True, slots=True)
class _Section:
    """The keys of one mapping: a check per key."""

    checks: Mapping[str, _Check]

    @property
    def keys(self) -> list[str]:
        return sorted(self.checks)


# -- describing values in messages ----------------------------------------------------------------


def _describe(value: object) -> str:
    """A value as the user wrote it in YAML, short enough for one line."""
    text: str
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = repr(value) if len(value) <= 60 else repr(value[:57] + "...")  # noqa: PLR2004
    elif isinstance(value, list):
        text = "a list"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, dt.datetime):
        text = f"a timestamp ({value.isoformat(sep=' ')})"
    elif isinstance(value, dt.date):
        text = f"a date ({value.isoformat()})"
    else:
        text = f"a {type(value).__name__}"
    return text


def _closest(word: str, choices: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _is_int(value: object) -> TypeGuard[int]:
    """An integer, and not YAML's true/false (Python bools are ints; a boolean is never a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


# -- scalar checks --------------------------------------------------------------------------------


def _string(value: object, at: _At) -> str:
    if not isinstance(value, str):
        at.fail(f"expected a string, got {_describe(value)}")
    return value


def _nonempty(value: object, at: _At) -> str:
    text = _string(value, at).strip()
    if not text:
        at.fail("must not be empty")
    return text


def _boolean(value: object, at: _At) -> bool:
    if not isinstance(value, bool):
        at.fail(f"expected true or false, got {_describe(value)}")
    return value


def _flat(value: object, at: _At) -> bool | str:
    """``publish.flat``: true (hard links), false, or ``copy`` (real copies)."""
    if isinstance(value, bool):
        return value
    if value != FLAT_COPY:
        at.fail(f"expected true, false or {FLAT_COPY!r}, got {_describe(value)}")
    return FLAT_COPY


def _int_range(low: int, high: int) -> _Check:
    def check(value: object, at: _At) -> int:
        if not _is_int(value):
            at.fail(f"expected an integer, got {_describe(value)}")
        if not low <= value <= high:
            at.fail(f"must be between {low} and {high}, got {value}")
        return value

    return check


def _seconds(value: object, at: _At) -> float:
    # Ints are fine where a float is expected (timeout: 60); booleans are not numbers.
    if not (_is_int(value) or isinstance(value, float)):
        at.fail(f"expected a number of seconds, got {_describe(value)}")
    if not math.isfinite(value) or value <= 0:
        at.fail(f"must be a finite number of seconds greater than 0, got {_describe(value)}")
    return float(value)


def _choice(choices: tuple[str, ...], what: str) -> _Check:
    def check(value: object, at: _At) -> str:
        text = _string(value, at)
        if text not in choices:
            # The same options in another order (debug+freethreaded) beat a near spelling.
            same = [c for c in choices if set(c.split("+")) == set(text.split("+"))]
            guess = same[0] if same else _closest(text, list(choices))
            hint = f"; did you mean {guess!r}?" if guess else ""
            at.fail(f"unknown {what} {text!r}, expected one of {', '.join(choices)}{hint}")
        return text

    return check


def _list_of(each: _Check) -> _Check:
    """A YAML list, checked item by item; every bad item is reported, duplicates are dropped."""

    def check(value: object, at: _At) -> tuple[Any, ...]:
        if value is None:
            at.fail("expected a list, got null (write [] for no restriction)")
        if isinstance(value, str):
            one = f"[{json.dumps(value)}]"
            at.fail(f"expected a list, got the single value {value!r} (write {one})")
        if not isinstance(value, list):
            at.fail(f"expected a list, got {_describe(value)}")
        items: list[Any] = []
        rejected = False
        for index, item in enumerate(value):
            try:
                items.append(each(item, at.item(index)))
            except _Rejected:
                rejected = True
        if rejected:
            raise _Rejected
        return tuple(dict.fromkeys(items))

    return check


def _path(value: object, at: _At) -> Path:
    text = _nonempty(value, at)
    if "\0" in text:
        at.fail("a path cannot contain a NUL character")
    # Relative to the config file's directory, never to the cwd (docs/interface.md §2.1).
    return at.base_dir / Path(text).expanduser()


def _path_or_url(value: object, at: _At) -> str | None:
    """An http(s) URL as given, or a path made absolute against the config's directory."""
    if value is None:
        return None
    text = _nonempty(value, at)
    if text.startswith(("http://", "https://")):
        return _base_url(text, at)
    return str(_path(text, at))


def _optional_path(value: object, at: _At) -> Path | None:
    return None if value is None else _path(value, at)


# -- upstream -------------------------------------------------------------------------------------


SOURCES = ("github", "mirror", "astral")
SOURCE_KEYS = {
    "github": frozenset(
        {
            "source",
            "repo",
            "uv_repo",
            "api_url",
            "token_env",
            "full_listing_hours",
            "download_url",
            "fallback",
        }
    ),
    "mirror": frozenset({"source", "url"}),
    "astral": frozenset({"source", "index_url", "download_url", "fallback"}),
}
"""The ``upstream`` keys that apply to each source; any other one is an error naming it."""


def _source(value: object, at: _At) -> str:
    text = _string(value, at)
    if text not in SOURCES:
        at.fail(f"unsupported source {text!r}; expected one of {', '.join(SOURCES)}")
    return text


def _mirror_url(value: object, at: _At) -> str | None:
    """An upstream mirror's root: an http(s) URL, or a local directory (``file://`` or a path,
    relative to the config file) made absolute."""
    if value is None:
        return None
    text = _nonempty(value, at)
    if text.startswith(("http://", "https://")):
        return _base_url(text, at)
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            at.fail(f"expected a file:///absolute/path URL, got {_describe(text)}")
        text = unquote(parts.path)
        if not text.startswith("/"):
            at.fail(f"expected a file:///absolute/path URL, got {_describe(value)}")
    elif "://" in text:
        at.fail(f"expected an http(s):// or file:// URL or a path, got {_describe(text)}")
    return str(_path(text, at)).rstrip("/") or "/"


def _upstream(value: object, at: _At) -> UpstreamConfig:
    values = _read(value, at, _SECTIONS["upstream"])
    given = list(value) if isinstance(value, dict) else []
    source = values.get("source", "github")
    if "source" in given and "source" not in values:
        raise _Rejected  # the bad source is reported already
    for key in given:
        if key in _SECTIONS["upstream"].checks and key not in SOURCE_KEYS[source]:
            at.key(key).note(f"does not apply to the {source!r} source")
    if source == "mirror" and values.get("url") is None and not _reported(at.key("url")):
        at.key("url").note("the 'mirror' source needs url: the root of another mirrorsync mirror")
    if source == "astral" and "download_url" not in given:
        # One key, one meaning: where the archives come from; its default follows the source.
        values["download_url"] = ASTRAL_DOWNLOAD_URL
    base = values.get("download_url")
    if (
        source == "github"
        and base is not None
        and _origin(base) == _origin(values.get("api_url", UpstreamConfig().api_url))
    ):
        # The token goes to the API's origin (TokenScope): a base there would receive it.
        at.key("download_url").note(
            "is on the origin of api_url; the token is never sent to a download base, "
            "so it must be another host (or leave it null for GitHub's own downloads)"
        )
    return UpstreamConfig(**values)


def _index_url(value: object, at: _At) -> str:
    return _http_url(value, at, what="a URL")


def _reported(at: _At) -> bool:
    return any(path == at.path for path, _ in at.problems)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _repo(value: object, at: _At) -> str:
    text = _string(value, at)
    m = _REPO.fullmatch(text)
    if m is None or {m["owner"], m["name"]} & {".", ".."}:
        at.fail(f"expected 'owner/name' (letters, digits, '.', '_', '-'), got {_describe(text)}")
    return text


def _http_url(value: object, at: _At, *, what: str) -> str:
    """An http(s) URL without credentials, query or fragment; trailing slashes dropped."""
    text = _string(value, at).strip()
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0  # .port raises ValueError when malformed
    except ValueError:
        port_ok = False
    if not port_ok or parts.scheme not in {"http", "https"} or not parts.hostname:
        at.fail(f"expected an http:// or https:// URL, got {_describe(text)}")
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: its user part is a credential.
        at.fail(f"the URL carries credentials; {SECRETS}")
    if parts.query or parts.fragment or any(c.isspace() for c in text):
        at.fail(f"expected {what} without query, fragment or spaces, got {_describe(text)}")
    if _URL_TEXT.fullmatch(text) is None:
        # Quotes, angle brackets and the like are no part of a URL (RFC 3986), and this one is
        # written into JSON, HTML and shell scripts: refuse it rather than escape it per format.
        at.fail(f"expected {what} of URL characters only (RFC 3986), got {_describe(text)}")
    return text.rstrip("/")


_URL_TEXT = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=]|%[0-9A-Fa-f]{2})+")
"""RFC 3986's unreserved and reserved characters and percent-escapes; not ``'`` (a shell's)."""


def _api_url(value: object, at: _At) -> str:
    return _http_url(value, at, what="an API root")


def _base_url(value: object, at: _At) -> str | None:
    return None if value is None else _http_url(value, at, what="a URL")


def _hours(value: object, at: _At) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        at.fail(f"expected a number of hours (0 or more), got {_describe(value)}")
    return float(value)


def _max_rate(value: object, at: _At) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        at.fail(f"expected a rate such as 20M, 500K or a number of bytes, got {_describe(value)}")
    try:
        return parse_rate(value)
    except ValueError as e:
        at.fail(str(e))


def _token_env(value: object, at: _At) -> str:
    text = _string(value, at)
    if _TOKEN_VALUE.fullmatch(text):
        # Never echo it: this is the token itself, not the name of its variable.
        at.fail(f"this looks like a token, not the name of an environment variable; {SECRETS}")
    if not _ENV_NAME.fullmatch(text):
        at.fail(
            "expected the name of an environment variable "
            "(letters, digits and '_', not starting with a digit)"
        )
    return text


# -- target ---------------------------------------------------------------------------------------


def _s3_url(value: object, at: _At) -> str:
    """``s3://BUCKET[/PREFIX]``, normalised without a trailing ``/``."""
    text = _nonempty(value, at)
    if not text.startswith("s3://"):
        at.fail(f"expected s3://BUCKET/PREFIX, got {_describe(text)}")
    bucket, _, prefix = text.removeprefix("s3://").partition("/")
    prefix = prefix.rstrip("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket or _IPV4.fullmatch(bucket):
        at.fail(
            f"not a valid bucket name: {_describe(bucket)} (3-63 characters: lower-case letters, "
            "digits, '.' and '-', starting and ending with a letter or digit)"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in prefix) or "\\" in prefix:  # noqa: PLR2004
        at.fail(f"the prefix {_describe(prefix)} holds a control character or a backslash")
    if any(c in prefix for c in "?#"):
        at.fail(f"the prefix {_describe(prefix)} holds '?' or '#': write the bare key prefix")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        at.fail(f"the prefix {_describe(prefix)} has an empty, '.' or '..' part")
    if len(prefix.encode("utf-8")) > 512:  # noqa: PLR2004 - keys hold 1024 bytes; names need room
        at.fail("the prefix is longer than 512 bytes")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _region(value: object, at: _At) -> str:
    text = _nonempty(value, at)
    if not _REGION.fullmatch(text):
        at.fail(f"expected a region name such as us-east-1 or auto, got {_describe(text)}")
    return text


def _header_value(value: object, at: _At) -> str:
    text = _nonempty(value, at)
    if any(ord(c) < 0x20 or ord(c) >= 0x7F for c in text):  # noqa: PLR2004 - printable ASCII
        at.fail(f"a header value must be printable ASCII on one line, got {_describe(text)}")
    return text


def _cache_control(value: object, at: _At) -> tuple[tuple[str, str], ...]:
    values = _read(value, at, _Section(dict.fromkeys(CACHE_KINDS, _header_value)))
    return tuple(sorted(values.items()))


def _byte_size(low: int, high: int) -> _Check:
    def check(value: object, at: _At) -> int:
        problem = f"expected a size such as 64Mi, 8M or a number of bytes, got {_describe(value)}"
        if isinstance(value, bool) or not isinstance(value, str | int):
            at.fail(problem)
        try:
            size = parse_rate(value)
        except ValueError:
            at.fail(problem)
        if not low <= size <= high:
            at.fail(f"must be between {low} and {high} bytes (5Mi and 5Gi), got {size}")
        return size

    return check


# -- releases -------------------------------------------------------------------------------------


def _latest(value: object, at: _At) -> int | None:
    if value is None:
        return None  # explicitly no limit
    if not _is_int(value):
        at.fail(f"expected a positive integer or null, got {_describe(value)}")
    if value < 1:
        at.fail(f"must be at least 1, got {value} (null means no limit)")
    return value


def _since(value: object, at: _At) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # a subclass of date: check it first
        at.fail(f"expected a date, got {_describe(value)}")
    if isinstance(value, dt.date):  # an unquoted 2024-10-16
        return value.strftime(TAG_DATE_FORMAT)
    text = str(value) if _is_int(value) else value  # an unquoted 20241016
    m = _DATE.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        at.fail(f"expected a date as 'YYYYMMDD' or 'YYYY-MM-DD', got {_describe(value)}")
    try:
        day = dt.date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        at.fail(f"not a real date: {_describe(value)}")
    return day.strftime(TAG_DATE_FORMAT)


def _tag(value: object, at: _At) -> str:
    text = str(value) if _is_int(value) else value  # an unquoted 20241016
    if not isinstance(text, str):
        at.fail(f"expected a tag (a string or a number like 20241016), got {_describe(value)}")
    if not is_safe_tag(text):
        at.fail(
            f"not a safe tag name: {_describe(text)} "
            "(letters, digits, '.', '_' and '-' only; not '.' or '..')"
        )
    return text


def _uv_version(value: object, at: _At) -> str:
    if _is_int(value) or isinstance(value, float):
        # YAML reads an unquoted 0.10 as the float 0.1: insist on quotes rather than guess.
        at.fail(f"expected a string, got the number {value}; quote uv versions in YAML")
    text = _nonempty(value, at)
    if (problem := check_uv_entry(text)) is not None:
        at.fail(problem)
    return text


# -- select ---------------------------------------------------------------------------------------


def _python(value: object, at: _At) -> str:
    if _is_int(value) or isinstance(value, float):
        # YAML reads an unquoted 3.10 as the float 3.1: insist on quotes rather than guess.
        at.fail(
            f"expected a string, got the number {value}; "
            "quote versions in YAML (3.10 unquoted reads as 3.1)"
        )
    text = _nonempty(value, at)
    try:
        compile_python_spec(text)  # the filters' own reading, so what passes here compiles there
    except ValueError as e:
        # packaging's message when it has one ("Invalid specifier: '>=3.1x'"), else the filters'.
        at.fail(str(e.__cause__) if isinstance(e.__cause__, InvalidSpecifier) else str(e))
    return text


def _glob(value: object, at: _At) -> str:
    text = _nonempty(value, at)
    if not _brackets_balance(text):
        at.fail(f"bad glob {text!r}: unbalanced '['")
    return text


def _brackets_balance(pattern: str) -> bool:
    """Whether every '[' opens a set that closes, scanning as ``fnmatch.translate`` does.

    ``fnmatch`` would silently read an unclosed '[' as a literal, so the glob could never match.
    """
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":  # a ']' first in the set is a literal
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                return False
            i = j + 1
    return True


# -- prune ----------------------------------------------------------------------------------------


def _prune_max(value: object, at: _At) -> PruneMax:
    if _is_int(value):
        if value < 0:
            at.fail(f"a number of files must not be negative, got {value}")
        return PruneMax(count=value, percent=None)
    m = _PERCENT.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None or not 0 < float(m["n"]) <= 100:  # noqa: PLR2004 - a percentage
        at.fail(f"expected 'N%' (0 < N <= 100) or a number of files, got {_describe(value)}")
    return PruneMax(count=None, percent=float(m["n"]))


# -- mappings -------------------------------------------------------------------------------------


def _read(value: object, at: _At, section: _Section) -> dict[str, Any]:
    """The checked values of a mapping's valid keys, in document order; null reads as empty."""
    if value is None:  # `download:` with every key commented out
        return {}
    if not isinstance(value, dict):
        at.fail(f"expected a mapping, got {_describe(value)}")
    values: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            at.key(_describe(key)).note(f"expected a key name, got {_describe(key)}")
            continue
        here = at.key(key)
        check = section.checks.get(key)
        if check is not None:
            with contextlib.suppress(_Rejected):  # already recorded
                values[key] = check(item, here)
        else:
            here.note(_unknown_key(key, at.path, section))
    return values


def _unknown_key(key: str, where: str, section: _Section) -> str:
    if where == "target" and _AWS_KEY.search(key):
        return f"{key!r} looks like a credential; {AWS_SECRETS}"
    if _SECRET_KEY.search(key):
        return f"{key!r} looks like a secret; {SECRETS}"
    # The right key in the wrong mapping (`concurrency` at the top level) beats a near spelling.
    for name, other in _SECTIONS.items():
        if name != where and key in other.keys:
            return f"unknown key; did you mean '{name}.{key}'?"
    guess = _closest(key, section.keys)
    if guess is not None:
        return f"unknown key; did you mean {guess!r}?"
    return f"unknown key; the keys here are {', '.join(section.keys)}"


def _record(kind: Callable[..., Any], section: _Section) -> _Check:
    return lambda value, at: kind(**_read(value, at, section))


def _releases(value: object, at: _At) -> ReleasesConfig:
    values = _read(value, at, _SECTIONS["releases"])
    since: str | None = values.get("since")
    tags: tuple[str, ...] = values.get("tags", ())
    # latest defaults to 1 only when neither since nor tags is given; an explicit null stays None.
    latest = values.get("latest", None if since or tags else 1)
    return ReleasesConfig(latest=latest, since=since, tags=tags)


def _target(value: object, at: _At) -> TargetConfig:
    values = _read(value, at, _SECTIONS["target"])
    given = list(value) if isinstance(value, dict) else []
    if "url" not in given:
        for key in given:
            if key in values and key != "path":
                at.key(key).note(S3_ONLY)
        return TargetConfig(path=values.get("path", _default_target(at)))
    if "path" in given:
        at.key("url").fail(
            "cannot be combined with target.path: a mirror is either a directory or a bucket"
        )
    if "url" not in values:
        raise _Rejected  # the bad url is reported already
    # path keeps its default: code that needs a directory refuses a bucket by its url
    return TargetConfig(**values, path=_default_target(at))


def _default_target(at: _At) -> Path:
    return at.base_dir / TargetConfig().path


_SECTIONS: dict[str, _Section] = {
    "upstream": _Section(
        {
            "source": _source,
            "repo": _repo,
            "uv_repo": _repo,
            "api_url": _api_url,
            "token_env": _token_env,
            "full_listing_hours": _hours,
            "download_url": _base_url,
            "fallback": _boolean,
            "url": _mirror_url,
            "index_url": _index_url,
        }
    ),
    "releases": _Section({"latest": _latest, "since": _since, "tags": _list_of(_tag)}),
    "select": _Section(
        {
            "python": _list_of(_python),
            "prereleases": _boolean,
            "latest_patch": _boolean,
            "platforms": _list_of(_glob),
            "flavors": _list_of(_choice(FLAVORS, "flavor")),
            "variants": _list_of(_choice(VARIANTS, "variant")),
            "builds": _list_of(_glob),
            "exclude": _list_of(_glob),
            "uv_metadata": _path_or_url,
        },
    ),
    "target": _Section(
        {
            "path": _path,
            "url": _s3_url,
            "endpoint_url": _base_url,
            "region": _region,
            "addressing_style": _choice(ADDRESSING_STYLES, "addressing style"),
            "checksum": _choice(CHECKSUMS, "checksum"),
            "cache_control": _cache_control,
            "state_dir": _path,
            "multipart_threshold": _byte_size(MIN_PART, MAX_PART),
            "part_size": _byte_size(MIN_PART, MAX_PART),
        },
    ),
    "download": _Section(
        {
            "concurrency": _int_range(1, 256),
            "retries": _int_range(0, 100),
            "timeout": _seconds,
            "max_rate": _max_rate,
        },
    ),
    "publish": _Section(
        {
            "base_url": _base_url,
            "download_metadata": _boolean,
            "html": _boolean,
            "astral_layout": _boolean,
            "flat": _flat,
            "offline_scripts": _boolean,
        }
    ),
    "bundle": _Section({"uv": _list_of(_uv_version)}),
}

_DOCUMENT = _Section(
    {
        "upstream": _upstream,
        "releases": _releases,
        "select": _record(SelectConfig, _SECTIONS["select"]),
        "target": _target,
        "download": _record(DownloadConfig, _SECTIONS["download"]),
        "prune": _boolean,
        "prune_max": _prune_max,
        "diff_file": _optional_path,
        "publish": _record(PublishConfig, _SECTIONS["publish"]),
        "bundle": _record(BundleConfig, _SECTIONS["bundle"]),
    },
)


# -- public API -----------------------------------------------------------------------------------


def parse_config(
    data: object, *, base_dir: Path, source: Path | None = None, origin: str = DEFAULT_CONFIG_NAME
) -> Config:
    """Validate a YAML-loaded object; raise ``ConfigError`` listing every problem in document order.

    ``None`` (an empty document) means every default. Relative paths resolve against ``base_dir``.
    """
    problems: list[tuple[str, str]] = []
    at = _At("", problems, base_dir)
    values: dict[str, Any] = {}
    if data is None or isinstance(data, dict):
        values = _read(data, at, _DOCUMENT)
        values.setdefault("target", TargetConfig(path=_default_target(at)))
    else:
        at.note(f"expected a mapping of settings at the top level, got {_describe(data)}")
    if problems:
        raise ConfigError(
            [f"{origin}: {path}: {msg}" if path else f"{origin}: {msg}" for path, msg in problems]
        )
    return Config(**values, source=source)
