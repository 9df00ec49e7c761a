"""A mirror in an S3 bucket (moved; split into modules in the next commit)."""

from mirrorsync.targets.s3.target import S3Target, content_type, default_state_dir, is_asset

__all__ = ["S3Target", "content_type", "default_state_dir", "is_asset"]
