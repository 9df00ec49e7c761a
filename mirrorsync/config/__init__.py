"""The configuration: frozen records (``records``, pure) and their checks and loading (``schema``).

Contract: ``records`` imports nothing but the standard library; ``schema`` may read YAML and use
the core's parsers. Only ``mirrorsync.cli`` reads the environment; everything else gets a
``Config``.
"""
