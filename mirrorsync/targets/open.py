"""The one place that knows which kinds of target there are: it opens the one a mirror names."""

from __future__ import annotations

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
    return open_root(cfg.target.path, existing=existing)


def open_root(root: Path, *, existing: bool = False) -> LocalTree:
    """The directory mirror at ``root`` (``verify --root``: a copied tree needs no config)."""
    if existing and not root.is_dir():
        raise ConfigError([f"{root}: no mirror there (the directory does not exist)"])
    return LocalTree(root)


def served_root(cfg: Config) -> Path:
    """The directory ``serve`` serves: the mirror's root; a bucket is served by its own service."""
    if cfg.target.url is not None:
        raise ConfigError(
            [f"{cfg.target.url}: serve needs a local tree; S3 serves a bucket itself"]
        )
    return cfg.target.path
