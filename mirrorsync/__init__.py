"""mirrorsync: mirror python-build-standalone releases into a verified static tree."""

__version__ = "0.1.0"
