"""The one place that knows which kinds of target there are: it opens the one a mirror names."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from mirrorsync.config.records import Config
from mirrorsync.errors import ConfigError
from mirrorsync.targets.base import Target
from mirrorsync.targets.local import LocalTree


def open_target(cfg: Config, *, existing: bool = False) -> Target:
    """The target the configuration names: a bucket for ``target.url``, else a directory.

    With ``existing`` (verify), a directory that is not there is a ``ConfigError``: there is no
    mirror to check. A bucket answers for itself when it is asked.
    """
    if cfg.target.url is not None:
        from mirrorsync.targets.s3 import S3Target  # noqa: PLC0415 - only bucket configs pay for it

        return S3Target.from_config(cfg)
    return open_root(cfg.target.path, existing=existing, key="target.path")


def open_root(root: Path, *, existing: bool = False, key: str = "--root") -> LocalTree:
    """The directory mirror at ``root`` (``verify --root``: a copied tree needs no config).

    A root that cannot be a mirror is a configuration error naming ``key``, before anything
    is read or written: a file, a link that leads nowhere, a path below a file, the file
    system's root or the user's home directory (a mirror writes ``index.html``, ``README.txt``
    and more at its root: it needs a directory of its own).
    """
    if (problem := root_problem(root, home=_home())) is not None:
        raise ConfigError([f"{key}: {root} {problem}"])
    if existing and not root.is_dir():
        raise ConfigError([f"{key}: {root}: no mirror there (the directory does not exist)"])
    return LocalTree(root)


def root_problem(root: Path, *, home: Path | None) -> str | None:
    """Why ``root`` cannot be a mirror's root, or None when it can (or does not exist yet)."""
    return _link_problem(root) or _kind_problem(root) or _place_problem(root, home=home)


def _link_problem(root: Path) -> str | None:
    if not root.is_symlink():
        return None
    try:
        root.resolve(strict=True)
    except RuntimeError:  # a loop, before Python 3.13
        return "is a symbolic link that loops"
    except OSError as e:
        return f"is a symbolic link that leads nowhere ({os.strerror(e.errno or 0).lower()})"
    return None


def _kind_problem(root: Path) -> str | None:
    """The nearest existing path of ``root`` and its parents must be a directory."""
    for candidate in (root, *root.parents):
        try:
            mode = candidate.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            return f"cannot be looked at ({os.strerror(e.errno or 0).lower()})"
        if stat.S_ISDIR(mode):
            return None
        return "is not a directory" if candidate == root else f"is below {candidate}, a file"
    return None


def _place_problem(root: Path, *, home: Path | None) -> str | None:
    real = root.resolve()
    if real == Path(real.anchor):
        return "is the file system's root: give the mirror a directory of its own"
    if home is not None and real == home.resolve():
        return "is your home directory: give the mirror a directory of its own"
    return None


def _home() -> Path | None:
    """The user's home directory from the password database (the environment is cli's)."""
    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return None


def served_root(cfg: Config) -> Path:
    """The directory ``serve`` serves: the mirror's root; a bucket is served by its own service."""
    if cfg.target.url is not None:
        raise ConfigError(
            [f"{cfg.target.url}: serve needs a local tree; S3 serves a bucket itself"]
        )
    return cfg.target.path
